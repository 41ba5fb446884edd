"""The statistics pages in Chromium (zh-CN): the chart draws on a canvas beside its table, with no console error."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.test_console_in_a_browser import deliver
from tests.conftest import PASSWORD
from tests.subscriptions.conftest import make_activity, make_template
from wechat.messages import MenuClickEvent, SubscribeChoice, SubscribePopupEvent
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
    recent = SubscribePopupEvent(
        account_original_id=ruikang.original_id,
        openid="oRecent",
        create_time=int(datetime.now(ZoneInfo("Asia/Shanghai")).timestamp()),
        msg_type="event",
        choices=(SubscribeChoice("TPL_VACCINE", "accept", 2),),
    )
    assert deliver(live_server, ruikang, render_message(recent)) == 200
    services.refresh()

    login(page, live_server)
    page.get_by_role("link", name="通知管理").click()
    spark = page.locator(f'[data-spark="{vaccine.pk}"]')
    expect(spark.locator("svg polyline")).to_have_count(1)
    expect(spark).to_have_attribute("data-values", "0,0,0,0,0,0,0,0,0,0,0,1")
    page.wait_for_timeout(5500)  # the rows are refreshed every 5 s: the lines are drawn again
    expect(spark.locator("svg polyline")).to_have_count(1)
    screenshot("templates-sparklines")
    page.get_by_role("link", name="订阅统计").click()
    expect(page.get_by_role("heading", name="订阅统计")).to_be_visible()
    page.locator('input[name="from"]').fill("2025-01")
    page.locator('input[name="to"]').fill("2025-12")
    page.get_by_role("button", name="查看").click()
    expect_drawn(page, "subscriptions-chart")
    rows = page.locator('[data-table="subscriptions"] tbody tr')
    expect(rows).to_have_count(12)
    expect(rows.first.locator("td").nth(1)).to_have_text("3")  # January: i = 0, 12, 24
    expect(page.locator('[data-table="subscriptions"] tfoot th').nth(1)).to_have_text("30")  # 2025 only
    screenshot("stats-subscriptions")

    page.locator('input[name="from"]').fill("2020-01")
    page.locator('input[name="to"]').fill("2020-06")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("[data-empty]")).to_be_visible()
    screenshot("stats-subscriptions-empty")


def expect_drawn(page, *names: str) -> None:
    """Each named chart drew: charts.js marks it once ECharts has rendered its canvas."""
    for name in names:
        chart = page.locator(f'[data-chart="{name}"]')
        expect(chart).to_have_attribute("data-drawn", "true")
        expect(chart.locator("canvas")).to_have_count(1)


def open_as_viewer(page, live_server, account, link: str, first: str = "", last: str = "") -> None:
    """Log in as a viewer of `account`, follow the navigation link, pick the months."""
    from django.contrib.auth import get_user_model

    from wxnotify.accounts.models import Membership

    user = get_user_model().objects.create_user(f"viewer-{account.pk}", password=PASSWORD)
    Membership.objects.create(user=user, account=account, role="viewer")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(user.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("navigation").get_by_role("link", name=link).click()
    if first:
        page.locator('input[name="from"]').fill(first)
        page.locator('input[name="to"]').fill(last)


@pytest.fixture
def menu_hospital(simulated_wechat, push):
    """A hospital with a published menu. Published from a thread of its own: Playwright's event loop runs in
    this one, and the WeChat client's sync wrapper refuses to run beside it."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from tests.engagement.test_custom_menu import hospital_menu
    from tests.stats.test_rollups import at
    from wechat.xmlcodec import render_message
    from wxnotify.engagement import services as engagement
    from wxnotify.engagement.models import MenuVersion

    account, sim = simulated_wechat

    def publish():
        try:
            return engagement.publish_menu(account=account, rows=hospital_menu(), user=None)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        v1 = pool.submit(publish).result()
    MenuVersion.objects.filter(pk=v1.pk).update(live_from=datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")))

    def send(message) -> None:
        assert push(account, render_message(message)).status_code == 200

    def base(openid: str, when: str) -> dict:
        return {
            "account_original_id": account.original_id,
            "openid": openid,
            "create_time": at(when),
            "msg_type": "event",
        }

    return account, send, base


def test_menu_statistics_share_and_trend(page, live_server, menu_hospital, screenshot):
    account, send, base = menu_hospital
    keys = ["MENU_BOOK"] * 5 + ["MENU_HOURS"] * 3
    for month in range(1, 13):
        for i, key in enumerate(keys[: 3 + month % 6]):
            send(MenuClickEvent(**base(f"o{i}", f"2025-{month:02d}-{1 + i:02d}T10:00:00"), key=key))
            if month <= 6:
                send(MenuClickEvent(**base(f"o{i}", f"2024-{month:02d}-{1 + i:02d}T10:00:00"), key=key))
    services.refresh()
    open_as_viewer(page, live_server, account, "菜单统计", "2025-01", "2025-12")
    page.locator('select[name="by"]').select_option("month")
    page.get_by_role("button", name="查看").click()
    expect_drawn(page, "menu-share", "menu-trend")
    first = page.locator('[data-table="menu"] tbody tr').first
    expect(first.locator("td").first).to_have_text("预约挂号")
    expect(page.locator('[data-table="menu"] tfoot th').nth(1)).to_have_text(str(sum(3 + m % 6 for m in range(1, 13))))
    screenshot("stats-menu")


def test_follower_growth_chart(page, live_server, menu_hospital, screenshot):
    from wechat.messages import FollowEvent, UnfollowEvent

    account, send, base = menu_hospital
    for month in range(1, 13):
        for i in range(month % 5 + 2):
            scene = {"hpv_poster": i % 3 == 0, "lecture_qr": i % 3 == 1}
            send(
                FollowEvent(
                    **base(f"o{month}-{i}", f"2025-{month:02d}-{1 + i:02d}T09:00:00"),
                    scene=next((s for s, on in scene.items() if on), None),
                )
            )
        if month % 3 == 0:
            send(UnfollowEvent(**base(f"o{month}-0", f"2025-{month:02d}-20T09:00:00")))
    services.refresh()
    open_as_viewer(page, live_server, account, "粉丝增长", "2025-01", "2025-12")
    page.get_by_role("button", name="查看").click()
    expect_drawn(page, "followers-chart")
    last = page.locator('[data-table="followers"] tbody tr').last
    expect(last.locator("td").last).to_have_text(str(sum(m % 5 + 2 for m in range(1, 13)) - 4))
    screenshot("stats-followers")


def test_a_notifications_funnel_and_taps(page, live_server, sending, settings, screenshot):
    from tests.campaigns.test_sending_on_wxsim import run_engines
    from wxnotify.campaigns import services as campaigns

    settings.WXNOTIFY_PUBLIC_URL = live_server.url
    account, sim, template, subscribers, campaign = sending
    openids = subscribers(40, product_only=5)
    c = campaign(page="https://www.example-hospital.cn/hpv")
    campaigns.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    sim.drain()
    for openid in openids[:12] + openids[:3]:
        sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/open", {})
    services.refresh()
    open_as_viewer(page, live_server, account, "通知效果")
    # The sends side by side, and what became of their deliveries day by day (today: 40 sent, 5 failed).
    page.get_by_label("趋势粒度").select_option("day")
    page.get_by_role("button", name="查看").click()
    expect_drawn(page, "sends-chart", "outcomes-chart")
    from django.utils import timezone

    today = page.locator('[data-table="outcomes"] tbody tr', has_text=f"{timezone.localdate():%Y-%m-%d}").locator("td")
    expect(today.nth(1)).to_have_text("40")
    expect(today.nth(3)).to_have_text("5")
    screenshot("stats-notifications")
    page.get_by_role("link", name=c.name).click()
    expect_drawn(page, "funnel-chart", "days-chart")
    expect(page.locator('[data-table="funnel"] tbody tr').nth(3).locator("td").nth(1)).to_have_text("12")
    screenshot("stats-notification")


def test_the_monthly_report_prints_cleanly(page, live_server, menu_hospital, screenshot):
    from wechat.messages import FollowEvent

    account, send, base = menu_hospital
    for i in range(6):
        send(
            MenuClickEvent(**base(f"o{i}", f"2025-11-{1 + i:02d}T10:00:00"), key="MENU_BOOK" if i % 2 else "MENU_HOURS")
        )
        send(FollowEvent(**base(f"f{i}", f"2025-11-{10 + i:02d}T10:00:00"), scene="hpv_poster" if i % 3 else None))
    services.refresh()
    open_as_viewer(page, live_server, account, "月度报告")
    page.locator('input[name="month"]').fill("2025-11")
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", name=re.compile("2025年11月 月度报告"))).to_be_visible()
    expect(page.locator('[data-table="report-5"] tbody tr')).to_have_count(2)
    screenshot("stats-report")
    page.emulate_media(media="print")
    expect(page.locator("nav.side")).to_be_hidden()
    screenshot("stats-report-print")
