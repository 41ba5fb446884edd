"""The simulator's JS-SDK stand-in in a real browser: OAuth makes the browser a patient, wx.config
checks the signature, and <wx-open-subscribe> opens the popup whose "允许" gives the patient a credit
and makes WeChat push subscribe_msg_popup_event (PopupScene 1)."""

import re
import time
from urllib.parse import urlencode

import pytest
from aiohttp import web
from playwright.sync_api import expect

from tests.wxsim.conftest import APPID, SECRET, Inbox, put_account, read_push
from wechat.messages import SubscribePopupEvent
from wechat.signature import jssdk_signature
from wxsim.testing import LoopbackServer, running_simulator

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>疫苗到货提醒</title><link rel="icon" href="data:,">
<script src="{sim}/_sim/jweixin-1.6.0.js"></script></head><body>
<h1>九价HPV疫苗到货提醒</h1>
<wx-open-subscribe template="{template}" id="subscribe">
  <script type="text/wxtag-template"><button id="subscribe-button">订阅到货通知</button></script>
</wx-open-subscribe>
<p id="result"></p>
<script>
wx.config({{appId: "{appid}", timestamp: "{timestamp}", nonceStr: "{nonce}", signature: "{signature}",
            jsApiList: [], openTagList: ["wx-open-subscribe"]}});
wx.ready(function () {{ document.body.dataset.ready = "yes"; }});
wx.error(function (e) {{ document.body.dataset.error = e.errMsg; }});
document.getElementById("subscribe").addEventListener("success", function (e) {{
  document.getElementById("result").textContent = e.detail.errMsg + " " + e.detail.subscribeDetails;
}});
</script></body></html>"""


class HospitalPage:
    """Stands in for the product's patient page: signs wx.config for the exact URL it was opened at."""

    def __init__(self, sim, template: str, ticket: str, *, tamper: bool = False) -> None:
        self.sim, self.template, self.ticket, self.tamper = sim, template, ticket, tamper
        self.server = LoopbackServer(lambda app: app.router.add_get("/s/HPV/", self.page))
        self.url = self.server.url("/s/HPV/")

    async def page(self, request: web.Request) -> web.Response:
        url = str(request.url) + ("&x=1" if self.tamper else "")
        timestamp, nonce = str(int(time.time())), "n0nce42"
        signature = jssdk_signature(jsapi_ticket=self.ticket, noncestr=nonce, timestamp=timestamp, url=url)
        html = PAGE.format(
            sim=self.sim.base_url,
            template=self.template,
            appid=APPID,
            timestamp=timestamp,
            nonce=nonce,
            signature=signature,
        )
        return web.Response(text=html, content_type="text/html")

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def world():
    inbox = Inbox().start()
    with running_simulator(sent_event_delay=0.0) as sim:
        put_account(sim, inbox.url)
        template = sim.post(f"/_sim/accounts/{APPID}/templates", {"tid": 5004, "kid_list": [1, 2, 3]})["priTmplId"]
        openid = sim.post(f"/_sim/accounts/{APPID}/patients", {"count": 1})["openids"][0]
        token = sim.access_token(APPID, SECRET)
        ticket = sim.wechat("GET", "/cgi-bin/ticket/getticket", token, type="jsapi")["ticket"]
        yield sim, inbox, template, openid, ticket
    inbox.stop()


def open_as_patient(page, sim, hospital_url, openid):
    query = {
        "appid": APPID,
        "redirect_uri": hospital_url,
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "s1",
        "sim_openid": openid,
    }
    page.goto(f"{sim.base_url}/connect/oauth2/authorize?{urlencode(query)}#wechat_redirect")
    expect(page).to_have_url(re.compile(r"/s/HPV/\?code=.+&state=s1"))


def test_subscribing_through_the_open_tag(page, world, screenshot):
    sim, inbox, template, openid, ticket = world
    hospital = HospitalPage(sim, template, ticket)
    try:
        open_as_patient(page, sim, hospital.url, openid)
        expect(page.locator("body")).to_have_attribute("data-ready", "yes")
        page.locator("#subscribe-button").click()
        popup = page.locator('[data-wxsim="subscribe-popup"]')
        expect(popup).to_contain_text("瑞康医院 申请向你发送以下订阅消息")
        expect(popup).to_contain_text("疫苗到货通知")
        screenshot("wxsim-subscribe-popup")
        popup.get_by_role("button", name="允许").click()
        expect(page.locator("#result")).to_contain_text("subscribe:ok")
        expect(page.locator("#result")).to_contain_text("accept")
    finally:
        hospital.close()
    assert sim.get(f"/_sim/accounts/{APPID}/patients/{openid}")["credits"] == {template: 1}
    pushes = [read_push(q, b) for q, b in inbox.requests]
    assert len(pushes) == 1 and isinstance(pushes[0], SubscribePopupEvent)
    assert pushes[0].openid == openid and pushes[0].choices[0].popup_scene == 1 and pushes[0].choices[0].accepted


def test_a_wrong_signature_fails_wx_config(page, world):
    sim, _inbox, template, openid, ticket = world
    hospital = HospitalPage(sim, template, ticket, tamper=True)
    try:
        open_as_patient(page, sim, hospital.url, openid)
        expect(page.locator("body")).to_have_attribute("data-error", "config:invalid signature")
    finally:
        hospital.close()
