"""The operator's main path in Chromium: compose (the card and the field checks live), approve, send,
watch the progress, read the log."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.campaigns.conftest import GOOD
from wxnotify.accounts.models import Membership
from wxnotify.campaigns.models import Campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_compose_approve_send_and_read_the_log(browser, page, live_server, sending, screenshot, settings):
    account, sim, template, subscribers, campaign = sending
    settings.WXNOTIFY_PUBLIC_URL = live_server.url
    subscribers(25, product_only=2)
    user = get_user_model().objects.create_user("admin1", password="admin1-password-1")
    Membership.objects.create(user=user, account=account, role="administrator")

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("admin1")
    page.get_by_label("密码").fill("admin1-password-1")
    page.get_by_role("button", name="登录").click()
    page.goto(f"{live_server.url}/campaigns/new/?template={template.pk}")
    page.locator("#id_name").fill("九价HPV疫苗到货通知")
    page.locator("#id_audience").select_option("template")
    for name, value in [
        ("疫苗名称", GOOD["thing1"]),
        ("到货时间", "下周"),
        ("接种地点", GOOD["thing3"]),
        ("预约方式", GOOD["thing5"]),
    ]:
        page.get_by_label(name, exact=True).fill(value)
    expect(page.locator('[data-error="field_date2"]')).to_contain_text("到货时间")  # checked while typing
    expect(page.locator('[data-card="thing1"]')).to_have_text("九价HPV疫苗")  # the card follows the fields
    page.get_by_label("到货时间", exact=True).fill(GOOD["date2"])
    expect(page.locator('[data-error="field_date2"]')).to_have_count(0)
    screenshot("compose", page)
    page.get_by_role("button", name="保存").click()

    expect(page.locator("#preflight")).to_contain_text("27")
    page.get_by_role("button", name="审核通过").click()
    page.get_by_role("button", name="开始发送").click()  # the queue runs inline in tests: the send finishes here
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "completed")
    expect(page.locator('[data-progress="sent"]')).to_have_text("25")
    expect(page.locator('[data-progress="failed"]')).to_have_text("2")
    screenshot("campaign-done", page)
    page.get_by_role("link", name="发送日志").click()
    page.locator("select[name=state]").select_option("failed")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_text("对方没有订阅").first).to_be_visible()
    screenshot("campaign-log", page)
    assert Campaign.objects.get().state == Campaign.State.COMPLETED
