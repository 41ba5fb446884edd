"""The console as a newcomer meets it (issue 13): each fix seen in Chromium (zh-CN), with a screenshot."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from wxnotify.accounts.models import Membership
from wxnotify.campaigns.models import Campaign, Previewer
from wxnotify.subscriptions.models import Subscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "newcomer-password-1"


def log_in(page, live_server, account, role: str = "administrator") -> None:
    user = get_user_model().objects.create_user(f"{role}-{account.pk}", password=PASSWORD)
    Membership.objects.create(user=user, account=account, role=role)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(user.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_a_preview_nobody_can_receive_is_not_offered(page, live_server, sending, screenshot):
    """Item 2: with only a previewer whose credit is used up, the page says why and what to do, and the
    button is disabled instead of "completed, 0/0"."""
    account, sim, template, subscribers, campaign = sending
    (staff,) = subscribers(1)
    Previewer.objects.create(account=account, name="宣传科小王", openid=staff)
    Subscription.objects.filter(openid=staff).update(credits=0)
    c = campaign()
    log_in(page, live_server, account)
    page.goto(f"{live_server.url}/campaigns/{c.pk}/")
    expect(page.locator("[data-previewers-cannot-receive]")).to_contain_text("订阅此模板")
    expect(page.get_by_role("button", name="发送预览")).to_be_disabled()
    screenshot("newcomer-preview-nobody")
    assert not Campaign.objects.filter(audience=Campaign.Audience.PREVIEWERS).exists()


def test_events_are_named_in_words_and_each_language_in_itself(page, live_server, make_account, push, screenshot):
    """Items 14 and 16: the home page and the inbound log say "关注", "点击菜单", "订阅通知送达回执"…
    (WeChat's own name only as the badge's tooltip); the language menu names each language in itself."""
    import time

    from wechat.messages import FollowEvent, MenuClickEvent, SentResult, SubscribeSentEvent
    from wechat.xmlcodec import render_message

    account = make_account()
    base = {"account_original_id": account.original_id, "openid": "oPatient1", "msg_type": "event"}
    now = int(time.time())
    for message in (
        FollowEvent(**base, create_time=now - 3, scene=None),
        MenuClickEvent(**base, create_time=now - 2, key="MENU_BOOK"),
        SubscribeSentEvent(**base, create_time=now - 1, results=(SentResult("TPL", 1001, 0, "success"),)),
    ):
        assert push(account, render_message(message)).status_code == 200
    log_in(page, live_server, account)
    recent = page.locator("#dashboard-live table")
    for words in ("关注", "点击菜单", "订阅通知送达回执"):
        expect(recent.get_by_text(words, exact=True)).to_be_visible()
    expect(recent).not_to_contain_text("subscribe_msg_sent_event")
    expect(recent.locator('[data-kind="subscribe_msg_sent_event"]')).to_have_attribute(
        "title", "subscribe_msg_sent_event"
    )
    options = page.locator("#language-switcher option")
    expect(options).to_have_text(["简体中文", "English"])
    screenshot("newcomer-home-events")


def test_compose_keeps_what_was_typed_and_checks_each_field_as_typed(page, live_server, sending, screenshot):
    """Items 6 and 10: choosing a template keeps the name and audience; each field says what it takes (in
    Chinese, with WeChat's example) and its problem appears next to it once typed in, whatever the other
    fields hold; an untouched field does not complain yet; the limit is said once."""
    from tests.subscriptions.conftest import make_template

    account, sim, template, subscribers, campaign = sending
    template.example = "疫苗名称：九价HPV疫苗\n到货时间：2026年12月1日"
    template.save()
    make_template(account, template_id="TPL_LECTURE", title="讲座开始提醒")
    log_in(page, live_server, account, "operator")
    page.goto(f"{live_server.url}/campaigns/new/")
    page.locator("#id_name").fill("九价到货通知")
    page.locator("#id_audience").select_option("template")
    page.locator("#id_template").select_option(str(template.pk))  # reloads with that template's fields
    expect(page.get_by_label("疫苗名称", exact=True)).to_be_visible()
    expect(page.locator("#id_name")).to_have_value("九价到货通知")
    expect(page.locator("#id_audience")).to_have_value("template")
    thing = page.locator("p.live-field", has=page.get_by_label("疫苗名称", exact=True))
    expect(thing.locator(".hint")).to_have_text("20 个以内字符")
    expect(page.get_by_label("疫苗名称", exact=True)).to_have_attribute("placeholder", "例如：九价HPV疫苗")

    page.locator("#id_name").fill("")  # an empty required field elsewhere does not stop the check
    page.get_by_label("疫苗名称", exact=True).fill("九价HPV疫苗（进口）到货啦快来预约吧先到先得")
    error = thing.locator(".field-error")
    expect(error).to_have_text("「疫苗名称」太长：最多 20 个字符。")
    expect(error).to_be_visible()
    dated = page.locator("p.live-field", has=page.get_by_label("到货时间", exact=True))
    expect(dated.locator(".field-error")).to_be_hidden()  # empty, but nobody typed in it yet
    screenshot("newcomer-compose-field-check")
    page.get_by_label("疫苗名称", exact=True).fill("九价HPV疫苗")
    expect(error).to_be_hidden()


def test_an_activity_leads_to_notifying_its_subscribers(page, live_server, sending, screenshot):
    """Item 8: the activity's page has the action; the new notification starts with its template and
    "subscribers of this activity" already chosen."""
    from tests.subscriptions.conftest import make_activity

    account, sim, template, subscribers, campaign = sending
    activity = make_activity(account, template, title="九价HPV疫苗到货")
    log_in(page, live_server, account, "operator")
    page.goto(f"{live_server.url}/activities/{activity.pk}/")
    page.get_by_role("link", name="通知订阅者").click()
    expect(page.locator("#id_template")).to_have_value(str(template.pk))
    expect(page.locator("#id_audience")).to_have_value("activity")
    expect(page.locator("#id_activity")).to_have_value(str(activity.pk))
    expect(page.get_by_label("疫苗名称", exact=True)).to_be_visible()  # the template's fields, ready to fill
    screenshot("newcomer-activity-notify")


def test_the_audit_log_says_which_content_was_approved_and_shows_it(page, live_server, sending, screenshot):
    """Item 17: not a bare hash: "审核通过的内容版本 #…", a link to that version's card."""
    from wxnotify.campaigns import services

    account, sim, template, subscribers, campaign = sending
    c = campaign(name="九价到货通知")
    services.approve(campaign=c, user=None)
    log_in(page, live_server, account)
    page.goto(f"{live_server.url}/campaigns/audit/")
    link = page.locator('tr[data-audit="approve"] a', has_text="审核通过的内容版本 #")
    expect(link).to_be_visible()
    screenshot("newcomer-audit")
    link.click()
    expect(page.locator(".wx-card")).to_contain_text("九价HPV疫苗")
    expect(page.locator("[data-current]")).to_have_attribute("data-current", "yes")
    screenshot("newcomer-audit-content")


def test_favicons_are_served_by_the_console_and_the_simulator(page, live_server, sending):
    """Item 18: no 404 for /favicon.ico on either."""
    account, sim, template, subscribers, campaign = sending
    console = page.request.get(f"{live_server.url}/favicon.ico")
    assert console.ok and console.headers["content-type"].startswith("image/svg")
    simulator = page.request.get(f"{sim.base_url}/favicon.ico")
    assert simulator.ok and simulator.headers["content-type"].startswith("image/svg")


def test_the_home_page_shows_what_an_operator_comes_for(page, live_server, sending, push, screenshot):
    """Item 20: sends going out and their latest results, and today's new subscriptions, above the events."""
    import time

    from tests.campaigns.test_sending_on_wxsim import run_engines
    from wechat.messages import SubscribeChoice, SubscribePopupEvent
    from wechat.xmlcodec import render_message
    from wxnotify.campaigns import services

    account, sim, template, subscribers, campaign = sending
    subscribers(6)
    done = campaign(name="九价到货通知")
    services.start(campaign=done, user=None, workers=0)
    run_engines(done.pk, 1)
    for i in range(3):  # three patients subscribe today in an article
        event = SubscribePopupEvent(
            account_original_id=account.original_id,
            openid=f"oToday{i}",
            create_time=int(time.time()) - i,
            msg_type="event",
            choices=(SubscribeChoice(template.template_id, "accept", 2),),
        )
        assert push(account, render_message(event)).status_code == 200
    log_in(page, live_server, account)
    expect(page.locator('[data-overview="finished"]')).to_contain_text("九价到货通知")
    expect(page.locator('[data-overview="finished"]')).to_contain_text("已发送 6 / 6")
    expect(page.locator('[data-overview="sending"]')).to_contain_text("现在没有正在发送的通知")
    expect(page.locator('[data-stat="accepts_today"]')).to_have_text("3")
    screenshot("newcomer-home")


def test_followers_found_by_a_sync_show_when_and_how_they_came(page, live_server, sending, screenshot):
    """Item 19: a sync fills the follow time and the channel from WeChat (user/info/batchget)."""
    from django.core.management import call_command

    from wxnotify.followers.models import Follower

    account, sim, template, subscribers, campaign = sending
    import threading

    from django.db import connections

    sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 3})  # followers from before the product

    def sync() -> None:  # in a thread of its own: Playwright's event loop runs in this one
        try:
            call_command("sync_followers", account.appid)
        finally:
            connections.close_all()

    worker = threading.Thread(target=sync)
    worker.start()
    worker.join()
    assert Follower.objects.filter(account=account, followed_at__isnull=True).count() == 0
    log_in(page, live_server, account)
    page.get_by_role("link", name="粉丝列表").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    for i in range(3):
        cells = rows.nth(i).locator("td")
        expect(cells.nth(2)).not_to_have_text("—")  # first followed
        expect(cells.nth(5)).to_have_text("搜索公众号")
    screenshot("newcomer-followers-synced")


def test_a_templates_rules_are_in_words_with_its_example(page, live_server, sending, screenshot):
    """Item 10: the template page says 事物 / 日期 …, what each takes, and WeChat's example per field."""
    account, sim, template, subscribers, campaign = sending
    template.example = "疫苗名称：九价HPV疫苗\n到货时间：2026年12月1日"
    template.save()
    log_in(page, live_server, account)
    page.goto(f"{live_server.url}/templates/{template.pk}/")
    first = page.locator('[data-table="rules"] tbody tr').first.locator("td")
    expect(first.nth(0)).to_have_text("疫苗名称")
    expect(first.nth(1)).to_have_text("事物")
    expect(first.nth(2)).to_have_text("20 个以内字符")
    expect(first.nth(3)).to_have_text("九价HPV疫苗")
    rule_column = page.locator('[data-table="rules"] tbody td:nth-child(2)')
    expect(rule_column.filter(has_text="thing")).to_have_count(0)  # WeChat's key stays only as a hint
    screenshot("newcomer-template-rules")


def test_a_previewer_is_picked_from_who_wrote_to_the_account(page, live_server, sending, screenshot):
    """Item 9: no raw OpenID to type: a colleague writes to the account, the operator picks them by what
    they wrote and names them; the notification's page then lists them, and a preview reaches them."""
    account, sim, template, subscribers, campaign = sending
    (staff,) = subscribers(1)
    sim.post(f"/_sim/accounts/{account.appid}/patients/{staff}/text", {"content": "我是宣传科小王"})
    c = campaign()
    log_in(page, live_server, account)
    page.goto(f"{live_server.url}/campaigns/{c.pk}/")
    page.locator("[data-no-previewers] a").click()  # "还没有预览人。添加预览人"
    row = page.locator(f'[data-sender="{staff}"]')
    expect(row).to_contain_text("我是宣传科小王")
    row.get_by_label("姓名").fill("宣传科小王")
    row.get_by_role("button", name="设为预览人").click()
    expect(page.locator(f'[data-previewer-row="{staff}"]')).to_contain_text("宣传科小王")
    expect(page.locator(f'[data-sender="{staff}"]')).to_have_count(0)  # picked: no longer offered
    screenshot("newcomer-previewer-picked")
    page.goto(f"{live_server.url}/campaigns/{c.pk}/")
    expect(page.locator(f'[data-previewer="{staff}"]')).to_contain_text("可接收 1 次")


def test_previews_stay_with_their_notification(page, live_server, sending, screenshot):
    """Item 11: the notification list shows no previews; a preview's page says what it is and leads back,
    without offering to preview itself."""
    account, sim, template, subscribers, campaign = sending
    (staff,) = subscribers(1)
    Previewer.objects.create(account=account, name="宣传科小王", openid=staff)
    c = campaign(name="九价到货通知")
    log_in(page, live_server, account)
    page.goto(f"{live_server.url}/campaigns/{c.pk}/")
    page.get_by_role("button", name="发送预览").click()
    preview = page.locator("#previewers a", has_text="预览：九价到货通知")
    expect(preview).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="发送通知").click()
    expect(page.locator("main")).to_contain_text("九价到货通知")
    expect(page.locator("main")).not_to_contain_text("预览：")
    page.goto(f"{live_server.url}/campaigns/{c.pk}/")
    page.locator("#previewers a", has_text="预览：九价到货通知").click()
    expect(page.locator("[data-preview-of]")).to_contain_text("这是一次预览")
    expect(page.get_by_role("button", name="发送预览")).to_have_count(0)
    screenshot("newcomer-preview-page")
    page.locator("[data-preview-of] a").click()
    expect(page.get_by_role("heading", name="九价到货通知")).to_be_visible()


def test_ids_and_states_do_not_break_mid_word(page, live_server, sending, screenshot):
    """Item 18: AppID, the role and 编辑 stay whole on the account settings page; labels have no ASCII colon."""
    account, sim, template, subscribers, campaign = sending
    log_in(page, live_server, account)
    page.get_by_role("navigation").get_by_role("link", name="公众号设置").click()
    appid = page.get_by_role("cell", name=account.appid, exact=True)
    assert appid.evaluate("cell => getComputedStyle(cell).whiteSpace") == "nowrap"
    lines = (
        "cell => { const r = document.createRange(); r.selectNodeContents(cell); return r.getClientRects().length; }"
    )
    assert appid.evaluate(lines) == 1  # its text on one line, however tall the row
    screenshot("newcomer-account-settings")
    page.goto(f"{live_server.url}/campaigns/new/")
    assert not [t for t in page.locator("label").all_text_contents() if t.strip().endswith(":")]
    from wxnotify.campaigns import services

    subscribers(2)
    services.start(campaign=campaign(name="九价到货通知"), user=None, workers=0)
    page.goto(f"{live_server.url}/campaigns/templates/{template.pk}/history/")
    state = page.locator("[data-state-cell]").first  # "发送中", "已完成" … never split over two lines
    expect(state).to_have_text("发送中")
    assert state.evaluate(lines) == 1


def test_the_estimate_uses_the_speed_reached_lately(page, live_server, sending, screenshot):
    """Item 13: after sends that went at 2 a second, the pre-flight estimates at 2, and says why."""
    from datetime import timedelta

    from django.utils import timezone

    from wxnotify.campaigns import tally
    from wxnotify.campaigns.models import Action, AuditEntry

    account, sim, template, subscribers, campaign = sending
    subscribers(10)
    done = campaign(name="上次的发送")
    t0 = timezone.now() - timedelta(days=1)
    for action, seconds in [(Action.SEND, 0), (Action.COMPLETED, 100)]:
        entry = AuditEntry.objects.create(account=account, campaign=done, action=action)
        AuditEntry.objects.filter(pk=entry.pk).update(at=t0 + timedelta(seconds=seconds))
    Campaign.objects.filter(pk=done.pk).update(
        state=Campaign.State.COMPLETED, started_at=t0, finished_at=t0 + timedelta(seconds=100)
    )
    tally.add(done.pk, {"sent": 200})
    draft = campaign(name="这次")
    log_in(page, live_server, account)
    page.goto(f"{live_server.url}/campaigns/{draft.pk}/")
    estimate = page.locator('[data-preflight="estimate"]')
    expect(estimate).to_contain_text("5.0 s")
    expect(estimate).to_contain_text("最近几次发送实际达到的速度")
    screenshot("newcomer-estimate")
