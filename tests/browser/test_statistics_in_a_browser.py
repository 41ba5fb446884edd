"""The statistics pages in Chromium (zh-CN): the chart draws on a canvas beside its table, with no console error."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.test_console_in_a_browser import deliver
from tests.conftest import PASSWORD
from tests.subscriptions.conftest import make_activity, make_template
from wechat.messages import SubscribeChoice, SubscribePopupEvent
from wechat.xmlcodec import render_message
from wxnotify.stats import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, live_server) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("alice")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_subscriptions_per_month_chart_and_table(page, live_server, personas, screenshot):
    ruikang = personas["ruikang"]
    vaccine = make_template(ruikang, template_id="TPL_VACCINE")
    lecture = make_template(ruikang, template_id="TPL_LECTURE", title="直播开始提醒")
    make_activity(ruikang, vaccine, lecture)
    make_activity(ruikang, vaccine, title="四价到货")
    for i in range(30):
        when = datetime(2025, 1 + i % 12, 1 + i % 27, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
        choices = (SubscribeChoice("TPL_VACCINE", "accept", 2),) + (
            (SubscribeChoice("TPL_LECTURE", "accept", 2),) if i % 3 == 0 else ()
        )
        event = SubscribePopupEvent(
            account_original_id=ruikang.original_id,
            openid=f"oPatient{i % 11:02d}",
            create_time=int(when.timestamp()),
            msg_type="event",
            choices=choices,
        )
        assert deliver(live_server, ruikang, render_message(event)) == 200
    services.refresh()

    login(page, live_server)
    page.get_by_role("link", name="订阅统计").click()
    expect(page.get_by_role("heading", name="订阅统计")).to_be_visible()
    page.locator('input[name="from"]').fill("2025-01")
    page.locator('input[name="to"]').fill("2025-12")
    page.get_by_role("button", name="查看").click()
    chart = page.locator('[data-chart="subscriptions-chart"]')
    expect(chart).to_have_attribute("data-drawn", "true")
    expect(chart.locator("canvas")).to_have_count(1)
    rows = page.locator('[data-table="subscriptions"] tbody tr')
    expect(rows).to_have_count(12)
    expect(rows.first.locator("td").nth(1)).to_have_text("3")  # January: i = 0, 12, 24
    expect(page.locator('[data-table="subscriptions"] tfoot th').nth(1)).to_have_text("30")
    screenshot("stats-subscriptions")

    page.locator('input[name="from"]').fill("2020-01")
    page.locator('input[name="to"]').fill("2020-06")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("[data-empty]")).to_be_visible()
    screenshot("stats-subscriptions-empty")
