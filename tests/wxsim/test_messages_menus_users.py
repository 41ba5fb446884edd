"""custom/send windows, the older one-time subscription, menus and users (docs/wechat-protocol.md §7, §3, §8,
§12)."""

import json
import re
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.wxsim.conftest import APPID

TEXT = {"msgtype": "text", "text": {"content": "您好，HPV疫苗已到货"}}


def custom(wx, openid, message=TEXT):
    return wx("POST", "/cgi-bin/message/custom/send", body={"touser": openid, **message})


def test_customer_service_needs_an_interaction_window(sim, wx, account):
    wx.login()
    patient = account["openids"][0]
    assert custom(wx, patient)["errcode"] == 45015
    sim.post(f"/_sim/accounts/{APPID}/patients/{patient}/text", {"content": "疫苗什么时候到"})
    assert [custom(wx, patient)["errcode"] for _ in range(6)] == [0, 0, 0, 0, 0, 45047]
    sim.post("/_sim/clock", {"advance": 48 * 3600 + 1})
    wx.login()  # the token expired long ago too
    assert custom(wx, patient)["errcode"] == 45015


def test_a_menu_click_allows_three_messages_within_a_minute(sim, wx, account):
    wx.login()
    patient = account["openids"][1]
    sim.post(f"/_sim/accounts/{APPID}/patients/{patient}/click", {"key": "MENU_VACCINE"})
    assert [custom(wx, patient)["errcode"] for _ in range(4)] == [0, 0, 0, 45047]
    sim.post(f"/_sim/accounts/{APPID}/patients/{patient}/click", {"key": "MENU_VACCINE"})
    sim.post("/_sim/clock", {"advance": 61})
    assert custom(wx, patient)["errcode"] == 45015


def test_news_has_one_article_and_unfollowers_get_nothing(sim, wx, account):
    wx.login()
    patient = account["openids"][2]
    sim.post(f"/_sim/accounts/{APPID}/patients/{patient}/text", {"content": "你好"})
    article = {
        "title": "义诊通知",
        "description": "12月12日",
        "url": "https://h.example/a",
        "picurl": "https://h.example/p.png",
    }
    assert custom(wx, patient, {"msgtype": "news", "news": {"articles": [article, article]}})["errcode"] == 45008
    assert custom(wx, patient, {"msgtype": "news", "news": {"articles": [article]}})["errcode"] == 0
    sim.post(f"/_sim/accounts/{APPID}/patients/{patient}/unfollow")
    assert custom(wx, patient)["errcode"] == 45015
    assert custom(wx, "oNobody")["errcode"] == 40003


def test_one_time_subscription_confirm_page_then_one_send(sim, wx, account):
    wx.login()
    patient = account["openids"][0]
    template_id = sim.get(f"/_sim/accounts/{APPID}")["one_time_template_id"]
    query = {
        "action": "get_confirm",
        "appid": APPID,
        "scene": 1000,
        "template_id": template_id,
        "redirect_url": "https://hospital.example/back",
        "reserved": "csrf42",
        "sim_openid": patient,
    }
    page = urllib.request.urlopen(f"{sim.base_url}/mp/subscribemsg?{urlencode(query)}").read().decode()
    assert "允许" in page
    form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page)) | {"answer": "confirm"}

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{sim.base_url}/mp/subscribemsg", data=urlencode(form).encode())
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as redirect:
        location = redirect.headers["Location"]
    back = parse_qs(urlsplit(location).query)
    assert location.startswith("https://hospital.example/back?")
    assert back["openid"] == [patient] and back["action"] == ["confirm"] and back["reserved"] == ["csrf42"]
    body = {
        "touser": patient,
        "template_id": template_id,
        "scene": "1000",
        "title": "义诊提醒",
        "data": {"content": {"value": "12月12日上午门诊大厅义诊"}},
    }
    assert wx("POST", "/cgi-bin/message/template/subscribe", body=body)["errcode"] == 0
    assert wx("POST", "/cgi-bin/message/template/subscribe", body=body)["errcode"] == 43101
    assert wx("POST", "/cgi-bin/message/template/subscribe", body=body | {"title": "长" * 16})["errcode"] == 47003
    too_long = {"content": {"value": "长" * 201}}
    assert wx("POST", "/cgi-bin/message/template/subscribe", body=body | {"data": too_long})["errcode"] == 47003
    assert wx("POST", "/cgi-bin/message/template/subscribe", body=body | {"touser": "nobody"})["errcode"] == 40003
    sim.post("/_sim/sensitive-words", {"words": ["义诊"]})
    assert wx("POST", "/cgi-bin/message/template/subscribe", body=body)["errcode"] == 45168  # checked before 43101


def test_menu_create_get_delete_and_its_validation(sim, wx, account):
    wx.login()
    menu = {
        "button": [
            {"type": "click", "name": "就诊指南", "key": "MENU_GUIDE_OPD"},
            {
                "name": "预约",
                "sub_button": [
                    {"type": "view", "name": "疫苗预约", "url": "https://h.example/vaccine"},
                    {"type": "click", "name": "体检套餐", "key": "MENU_CHECKUP"},
                ],
            },
        ]
    }
    assert wx("GET", "/cgi-bin/menu/get")["errcode"] == 46003
    assert wx("POST", "/cgi-bin/menu/create", body=menu)["errcode"] == 0
    got = wx("GET", "/cgi-bin/menu/get")["menu"]
    assert got["button"] == menu["button"] and got["menuid"]
    click = {"type": "click", "name": "x", "key": "K"}
    cases = {
        40016: {"button": [click] * 4},
        40017: {"button": [{"type": "dance", "name": "x", "key": "K"}]},
        40018: {"button": [{"type": "click", "name": "就诊指南与服务", "key": "K"}]},  # 21 bytes > 16
        40019: {"button": [{"type": "click", "name": "x"}]},
        40023: {"button": [{"name": "更多", "sub_button": [click] * 6}]},
        40025: {"button": [{"name": "更多", "sub_button": [{"type": "click", "name": "长" * 21, "key": "K"}]}]},
        40027: {
            "button": [
                {
                    "name": "更多",
                    "sub_button": [{"type": "view", "name": "x", "url": "https://h.example/" + "a" * 1020}],
                }
            ]
        },
    }
    for code, bad in cases.items():
        assert wx("POST", "/cgi-bin/menu/create", body=bad)["errcode"] == code, code
    assert wx("GET", "/cgi-bin/menu/delete")["errcode"] == 0
    assert wx("GET", "/cgi-bin/menu/get")["errcode"] == 46003


def test_user_get_pages_10000_and_user_info(sim, wx, account):
    wx.login()
    sim.post(f"/_sim/accounts/{APPID}/patients", {"count": 22997})
    sim.post(f"/_sim/accounts/{APPID}/patients/{account['openids'][0]}/unfollow")
    seen, next_openid, pages = [], "", []
    while True:
        page = wx("GET", "/cgi-bin/user/get", {"next_openid": next_openid} if next_openid else {})
        pages.append(page["count"])
        if not page["count"]:
            break
        seen += page["data"]["openid"]
        next_openid = page["next_openid"]
    assert pages == [10000, 10000, 2999, 0] and len(set(seen)) == 22999
    assert account["openids"][0] not in seen
    info = wx("GET", "/cgi-bin/user/info", {"openid": account["openids"][1], "lang": "zh_CN"})
    assert info["subscribe"] == 1 and "nickname" not in info and info["subscribe_scene"].startswith("ADD_SCENE_")
    assert wx("GET", "/cgi-bin/user/info", {"openid": account["openids"][0]}) == {
        "subscribe": 0,
        "openid": account["openids"][0],
    }
    assert wx("GET", "/cgi-bin/user/info", {"openid": "oNobody"})["errcode"] == 40003

    def batch(openids):
        return wx(
            "POST", "/cgi-bin/user/info/batchget", body={"user_list": [{"openid": o, "lang": "zh_CN"} for o in openids]}
        )

    asked = [account["openids"][0], account["openids"][1], *seen[:98]]
    users = batch(asked)["user_info_list"]
    assert [u["openid"] for u in users] == asked and all(u["subscribe"] == 1 for u in users[1:])
    assert users[0] == {"subscribe": 0, "openid": account["openids"][0]} and users[1] == info
    assert batch(seen[:101])["errcode"] == 40032  # at most 100 a call
    assert batch([])["errcode"] == 40032
    assert batch([account["openids"][1], "oNobody"])["errcode"] == 40003  # one unknown fails the call
    assert wx("POST", "/cgi-bin/user/info/batchget", body={"user_list": "o1"})["errcode"] == 47001


def test_oauth_code_is_single_use_and_getticket(sim, wx, account):
    patient = account["openids"][0]
    query = {
        "appid": APPID,
        "redirect_uri": "https://hospital.example/s/ABC/",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "st4te",
        "sim_openid": patient,
    }

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(f"{sim.base_url}/connect/oauth2/authorize?{urlencode(query)}")
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as redirect:
        location = redirect.headers["Location"]
        assert "wxsim_openid=" in redirect.headers["Set-Cookie"]
    back = parse_qs(urlsplit(location).query)
    assert back["state"] == ["st4te"]
    exchange = {
        "appid": APPID,
        "secret": "app-secret-0123456789abcdef012345",
        "code": back["code"][0],
        "grant_type": "authorization_code",
    }
    assert wx("GET", "/sns/oauth2/access_token", exchange, token=False)["openid"] == patient
    assert wx("GET", "/sns/oauth2/access_token", exchange, token=False)["errcode"] == 40163
    assert wx("GET", "/sns/oauth2/access_token", exchange | {"code": "forged"}, token=False)["errcode"] == 40029
    wx.login()
    ticket = wx("GET", "/cgi-bin/ticket/getticket", {"type": "jsapi"})
    assert ticket["errcode"] == 0 and ticket["expires_in"] == 7200
    assert wx("GET", "/cgi-bin/ticket/getticket", {"type": "jsapi"})["ticket"] == ticket["ticket"]


def test_jssdk_config_checks_the_signature(sim, wx, account):
    from wechat.signature import jssdk_signature

    wx.login()
    ticket = wx("GET", "/cgi-bin/ticket/getticket", {"type": "jsapi"})["ticket"]
    url = "http://127.0.0.1:8000/s/ABC/?code=x&state=y"
    config = {
        "appId": APPID,
        "timestamp": "1700000000",
        "nonceStr": "n0nce",
        "url": url,
        "signature": jssdk_signature(jsapi_ticket=ticket, noncestr="n0nce", timestamp="1700000000", url=url),
    }

    def post(body):
        request = urllib.request.Request(
            f"{sim.base_url}/_sim/jssdk/config",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Origin": "http://127.0.0.1:8000"},
        )
        with urllib.request.urlopen(request) as response:
            assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
            return json.loads(response.read())

    assert post(config)["errMsg"] == "config:ok"
    assert post(config | {"url": url + "&tampered=1"})["errMsg"] == "config:invalid signature"


def test_remaining_menu_codes_and_the_monthly_clear_quota_limit(sim, wx, account):
    wx.login()
    cases = {
        40020: {"button": [{"type": "view", "name": "x", "url": "https://h.example/" + "a" * 1020}]},
        40024: {"button": [{"name": "更多", "sub_button": [{"type": "dance", "name": "x", "key": "K"}]}]},
        40026: {"button": [{"name": "更多", "sub_button": [{"type": "click", "name": "x", "key": "K" * 129}]}]},
        40055: {"button": [{"type": "view", "name": "x", "url": "ftp://h.example/"}]},
    }
    for code, bad in cases.items():
        assert wx("POST", "/cgi-bin/menu/create", body=bad)["errcode"] == code, code
    for _ in range(10):
        assert wx("POST", "/cgi-bin/clear_quota", body={"appid": APPID})["errcode"] == 0
    assert wx("POST", "/cgi-bin/clear_quota", body={"appid": APPID})["errcode"] == 48006
    assert wx("POST", "/cgi-bin/clear_quota", body={"appid": "wx0"})["errcode"] == 40013
