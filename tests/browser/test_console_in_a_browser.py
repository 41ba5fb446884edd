"""An operator logs in, reads the dashboard in Chinese, watches it update live, and switches to English."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, as_account, fixture_xml
from wxsim.client import ServerURL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def deliver(live_server, account, xml: bytes) -> int:
    """Push to the live server over real HTTP, as WeChat would."""
    server = ServerURL(
        f"{live_server.url}/wechat/{account.appid}/callback",
        token=account.callback_token,
        appid=account.appid,
        mode=account.message_mode,
        encoding_aes_key=account.encoding_aes_key,
    )
    return server.push(xml, timeout=5)[0]


def test_operator_logs_in_and_sees_the_dashboard_update_live(page, live_server, personas, screenshot):
    ruikang = personas["ruikang"]
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_role("heading", name="登录 wxnotify")).to_be_visible()
    screenshot("login-zh")

    page.get_by_label("用户名").fill("alice")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="瑞康医院")).to_be_visible()
    following = page.locator('[data-stat="following"]')
    expect(following).to_have_text("0")

    assert deliver(live_server, ruikang, as_account(fixture_xml("follow_qrscene.xml"), ruikang)) == 200
    expect(following).to_have_text("1", timeout=15_000)  # htmx polls every 10 s; no reload
    screenshot("dashboard-zh")

    page.get_by_label("语言").select_option("en")
    expect(page.locator('[data-stat="following"]')).to_have_text("1")
    expect(page.get_by_text("Following now")).to_be_visible()
    screenshot("dashboard-en")

    page.get_by_role("link", name="Followers").first.click()
    expect(page.get_by_text("otFpruAK8D-E6EfStSYonYSBZ8_4")).to_be_visible()
