"""The operator's main path in Chromium: compose (the card and the field checks live), preview, approve,
send, watch the progress move, read the log."""

import asyncio
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from playwright.sync_api import expect

from tests.campaigns.conftest import GOOD
from wxnotify.accounts.models import Membership
from wxnotify.campaigns.models import Campaign, Previewer
from wxnotify.campaigns.sending.runner import run_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_compose_approve_send_and_read_the_log(browser, page, live_server, sending, screenshot, settings):
    account, sim, template, subscribers, campaign = sending
    settings.WXNOTIFY_PUBLIC_URL = live_server.url
    settings.WXNOTIFY_SEND_WORKERS = 0  # the send is worked by a worker of our own below, as in production
    account.send_rate = 5  # slow enough to watch the progress move
    account.save()
    subscribers(25, product_only=2)
    (staff,) = subscribers(1)
    Previewer.objects.create(account=account, name="宣传科小王", openid=staff)
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

    expect(page.locator('[data-preflight="eligible"]')).to_have_text("28")
    expect(page.locator(f'[data-previewer="{staff}"]')).to_contain_text("可接收 1 次")
    expect(page.locator(".steps li.current")).to_have_text("① 预览")  # the first step, its button primary
    expect(page.get_by_role("button", name="发送预览")).to_have_class("btn primary")
    screenshot("campaign-draft", page)
    page.get_by_role("button", name="发送预览").click()  # previews go through the queue, inline in tests
    expect(page.locator("#previewers")).to_contain_text("已完成")
    expect(page.locator(f'[data-previewer="{staff}"]')).to_contain_text("没有可用的订阅次数")  # credit used
    expect(page.locator('[data-preflight="eligible"]')).to_have_text("27")
    # The page leads the way: previewed, so approving is the step now; sending comes after it.
    expect(page.locator(".steps li.current")).to_have_text("② 审核")
    expect(page.get_by_role("button", name="开始发送")).to_have_count(0)
    expect(page.get_by_role("button", name="删除草稿")).to_be_visible()
    page.get_by_role("button", name="审核通过").click()
    expect(page.locator(".steps li.current")).to_have_text("③ 发送")
    expect(page.get_by_role("button", name="开始发送")).to_have_class("btn primary")
    page.get_by_role("button", name="开始发送").click()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "sending")
    c = Campaign.objects.get(audience=Campaign.Audience.TEMPLATE)

    def work() -> None:
        try:
            asyncio.run(run_campaign(c.pk))
        finally:
            connections.close_all()

    worker = threading.Thread(target=work)
    worker.start()
    # The page polls: the numbers move while the worker sends (5/s, so a few seconds), then it completes.
    page.wait_for_function(
        "() => { const n = +document.querySelector('[data-progress=sent]').textContent; return n > 0 && n < 25; }",
        timeout=20_000,
    )
    screenshot("campaign-sending", page)
    expect(page.get_by_role("button", name="暂停")).to_be_visible()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "completed", timeout=30_000)
    worker.join()
    # The buttons follow the state without a reload: a completed send offers no pause and no cancel.
    expect(page.get_by_role("button", name="暂停")).to_have_count(0)
    expect(page.get_by_role("button", name="取消发送")).to_have_count(0)
    # Its speed is over the time it sent: read again later, it has not fallen.
    speed = page.locator("[data-progress=rate]").text_content()
    page.wait_for_timeout(2500)
    page.reload()
    expect(page.locator("[data-progress=rate]")).to_have_text(speed)
    # Everyone in the target is accounted for: 25 sent, 2 refused by WeChat, and the previewer whose credit
    # the preview used — skipped with the reason, not left out.
    expect(page.locator('[data-progress="sent"]')).to_have_text("25")
    expect(page.locator('[data-progress="failed"]')).to_have_text("2")
    expect(page.locator('[data-progress="skipped"]')).to_have_text("1")
    expect(page.locator('tr[data-audit="send"]')).to_contain_text("27 位接收人 · 1 人跳过")  # 28, as the target
    # The two failures are people who cannot receive it (43101): nothing a retry would change.
    expect(page.get_by_role("button", name="重发因临时故障失败的")).to_have_count(0)
    screenshot("campaign-done", page)
    page.get_by_role("link", name="发送日志").click()
    expect(page.locator("[data-totals]")).to_contain_text("共 28 人")  # the totals by state, and where this page is
    expect(page.locator("[data-position]")).to_have_text("第 1–28 条，共 28 条")
    page.locator("select[name=state]").select_option("failed")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_text("对方没有订阅").first).to_be_visible()
    screenshot("campaign-log", page)
    page.locator("select[name=state]").select_option("skipped")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text(staff)
    expect(page.locator("tbody tr")).to_contain_text("没有可用的订阅次数")
    screenshot("campaign-log-skipped", page)
    # The CSV of the whole log: a row per person in the target (28), each with its state and reason.
    import csv
    import io

    response = page.request.get(f"{live_server.url}/campaigns/{c.pk}/log.csv")
    rows = list(csv.reader(io.StringIO(response.text().lstrip("\ufeff"))))
    assert len(rows) == 1 + 28
    states = [row[1] for row in rows[1:]]
    assert (states.count("已发送"), states.count("失败"), states.count("已跳过")) == (25, 2, 1)
    assert all(row[4] for row in rows[1:] if row[1] != "已发送")  # every one not sent says why
    assert Campaign.objects.get(pk=c.pk).state == Campaign.State.COMPLETED


def test_the_two_person_rule_in_the_browser(browser, page, live_server, sending, screenshot, settings):
    """Where a second person must approve, the operator's draft offers "提交审核", not "开始发送"; the approver
    approves; the operator sends. Each sees only the buttons their role and the state allow."""
    account, sim, template, subscribers, campaign = sending
    settings.WXNOTIFY_SEND_WORKERS = 0  # the state is what this test watches, not the sending
    account.require_second_approver = True
    account.save()
    subscribers(3)
    people = {}
    for role in ("operator", "approver"):
        people[role] = get_user_model().objects.create_user(f"{role}1", password=f"{role}1-password-1")
        Membership.objects.create(user=people[role], account=account, role=role)
    c = campaign(name="九价HPV疫苗到货通知", created_by=people["operator"], edited_by=people["operator"])

    def log_in(target, role: str) -> None:
        target.goto(f"{live_server.url}/login/")
        target.get_by_label("用户名").fill(f"{role}1")
        target.get_by_label("密码").fill(f"{role}1-password-1")
        target.get_by_role("button", name="登录").click()
        target.goto(f"{live_server.url}/campaigns/{c.pk}/")

    log_in(page, "operator")
    expect(page.get_by_role("button", name="开始发送")).to_have_count(0)
    expect(page.get_by_role("button", name="审核通过")).to_have_count(0)
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "awaiting_approval")
    expect(page.get_by_text("已提交审核，等待审核人审核。")).to_be_visible()
    expect(page.get_by_role("button", name="提交审核")).to_have_count(0)

    approver = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800}).new_page()
    log_in(approver, "approver")
    expect(approver.get_by_role("button", name="开始发送")).to_have_count(0)  # sending is the operator's
    approver.get_by_role("button", name="审核通过").click()
    expect(approver.locator("[data-state]")).to_have_attribute("data-state", "approved")
    screenshot("campaign-approved-by-the-second-person", approver)
    approver.context.close()

    page.reload()
    page.get_by_role("button", name="开始发送").click()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "sending")
    page.goto(f"{live_server.url}/campaigns/audit/")
    rows = page.locator("tr[data-audit]")
    expect(rows).to_have_count(3)
    expect(page.locator('tr[data-audit="submit"]')).to_contain_text("operator1")
    expect(page.locator('tr[data-audit="approve"]')).to_contain_text("approver1")
    expect(page.locator('tr[data-audit="submit"]')).to_contain_text("提交审核")
    screenshot("audit-two-person-rule", page)
