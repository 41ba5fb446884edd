"""C2 previews through the same sending path, C4 scheduling (absolute and relative to the activity)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.subscriptions.conftest import make_activity
from wxnotify.campaigns import lifecycle, selectors, services, tally, tasks
from wxnotify.campaigns.models import Campaign, Delivery, Previewer
from wxnotify.subscriptions.models import Activity, Subscription

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_preview_reaches_the_previewers_and_uses_their_credit(sending):
    account, sim, template, subscribers, campaign = sending
    staff = subscribers(2)
    subscribers(50)  # patients: not previewed
    Previewer.objects.create(account=account, name="宣传科小王", openid=staff[0])
    Previewer.objects.create(account=account, name="宣传科小李", openid=staff[1])
    Subscription.objects.filter(openid=staff[1]).update(credits=0)  # used up: the page warns about it
    c = campaign()
    status = {p.name: (s.credits if s else None) for p, s in selectors.previewer_status(c)}
    assert status == {"宣传科小王": 1, "宣传科小李": 0}
    trial = services.preview(campaign=c, user=None)  # the queue runs inline in tests
    trial.refresh_from_db()
    assert trial.state == Campaign.State.COMPLETED and trial.source_campaign == c
    # The previewer without a credit is in the log, skipped with the reason (WeChat was not asked).
    assert dict(trial.deliveries.values_list("openid", "state")) == {staff[0]: "sent", staff[1]: "skipped"}
    assert trial.deliveries.get(openid=staff[1]).errmsg == "no subscription credit"
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}&detail=1")
    assert received["counts"] == {staff[0]: 1}
    assert Subscription.objects.get(openid=staff[0]).credits == 0
    c.refresh_from_db()
    assert c.state == Campaign.State.DRAFT  # the real send is untouched


def test_schedule_relative_to_the_activity_then_the_minute_task_starts_it(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(5)
    activity = make_activity(account, template, days=1)
    c = campaign(activity=activity, minutes_before_start=30)
    at = services.schedule(campaign=c, user=None)
    assert at == activity.starts_at - timedelta(minutes=30)
    c.refresh_from_db()
    assert c.state == Campaign.State.SCHEDULED
    tasks.start_due_campaigns.call_local()
    c.refresh_from_db()
    assert c.state == Campaign.State.SCHEDULED  # not due yet
    # Time passes: the activity now starts in 29 minutes, so "30 minutes before" is due.
    Activity.objects.filter(pk=activity.pk).update(starts_at=timezone.now() + timedelta(minutes=29))
    tasks.start_due_campaigns.call_local()
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED and selectors.progress(c)["sent"] == 5


def test_a_time_in_the_past_is_refused(sending):
    account, sim, template, subscribers, campaign = sending
    c = campaign(scheduled_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(services.CampaignError, match="将来"):
        services.schedule(campaign=c, user=None)


def test_quiet_hours_make_a_send_wait_and_the_minute_task_resumes_it(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(10)
    now = timezone.localtime()
    account.quiet_start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    account.quiet_end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    account.save()
    assert account.in_quiet_hours(timezone.now())
    c = campaign()
    services.start(campaign=c, user=None)  # the queue runs inline: the engine finds quiet hours at once
    c.refresh_from_db()
    assert c.state == Campaign.State.PAUSED and c.stop_reason.startswith("quiet hours")
    assert selectors.progress(c)["sent"] == 0
    tasks.start_due_campaigns.call_local()
    c.refresh_from_db()
    assert c.state == Campaign.State.PAUSED  # still quiet
    later = timezone.localtime() + timedelta(hours=2)
    account.quiet_start, account.quiet_end = later.time(), (later + timedelta(hours=1)).time()  # quiet hours are over
    account.save()
    tasks.start_due_campaigns.call_local()
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED and selectors.progress(c)["sent"] == 10


def test_the_minute_task_revives_a_send_nobody_works_on(sending):
    """Every worker died and the queue lost its message: the minute task wakes one, but never a second
    engine beside a live one (it holds leases) or right after a start."""
    account, sim, template, subscribers, campaign = sending
    subscribers(20)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)  # the workers never come
    tasks.start_due_campaigns.call_local()
    assert selectors.progress(c)["pending"] == 20  # just woken: give the workers time
    Campaign.objects.filter(pk=c.pk).update(woken_at=timezone.now() - timedelta(minutes=5))
    live = Delivery.objects.filter(campaign=c).first()
    Delivery.objects.filter(pk=live.pk).update(
        state=Delivery.State.CLAIMED, attempts=1, lease_until=timezone.now() + timedelta(minutes=1)
    )
    tally.recount(c.pk)  # this test wrote the worker's row itself
    tasks.start_due_campaigns.call_local()
    assert selectors.progress(c)["pending"] == 19  # someone is at work
    Delivery.objects.filter(pk=live.pk).update(lease_until=timezone.now() - timedelta(seconds=1))  # it died
    tasks.start_due_campaigns.call_local()  # the queue runs inline in tests
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED and selectors.progress(c)["sent"] == 20
    (revival,) = c.audit.filter(action="revive")
    # What nobody held, for whoever reads the log: the dead worker's row went back to the queue first.
    stalled = revival.detail["stalled"]
    assert stalled["by_state"] == {"pending": 20} and stalled["woken_at"] and stalled["last_progress"] is None
    assert "无人处理的：待发送 20" in revival.summary
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == 20 and received["more_than_once"] == []


def test_a_send_relative_to_the_activity_follows_a_change_of_its_time(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(3)
    activity = make_activity(account, template, days=2)
    c = campaign(activity=activity, minutes_before_start=30)
    services.schedule(campaign=c, user=None)
    activity.starts_at = timezone.now() + timedelta(minutes=10)  # the lecture was moved forward
    activity.save()
    tasks.start_due_campaigns.call_local()  # now due: 30 minutes before a start 10 minutes away
    c.refresh_from_db()
    assert c.scheduled_at == activity.starts_at - timedelta(minutes=30)
    assert c.state == Campaign.State.COMPLETED and selectors.progress(c)["sent"] == 3
    shown = c.audit.get(action="reschedule").summary  # in Beijing time, as the console shows every time
    assert shown == f"{timezone.localtime(c.scheduled_at):%Y-%m-%d %H:%M}"


def test_rows_a_dead_worker_held_in_a_cancelled_send_end_cancelled(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(2)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    held = Delivery.objects.filter(campaign=c).first()
    Delivery.objects.filter(pk=held.pk).update(
        state=Delivery.State.CLAIMED, attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )
    tally.recount(c.pk)  # this test wrote the worker's row itself
    services.cancel(campaign=c, user=None)  # reaches the pending row only; the claimed one's worker is dead
    tasks.start_due_campaigns.call_local()  # its lease expired: back to the queue of a cancelled send
    assert selectors.progress(c)["cancelled"] == 2 and selectors.progress(c)["pending"] == 0


def test_a_send_that_cannot_resume_does_not_hold_up_the_others(sending):
    """Two sends stopped by the daily quota; one was edited meanwhile and awaits a second approval."""
    account, sim, template, subscribers, campaign = sending
    account.require_second_approver = True
    account.save()
    subscribers(2)
    yesterday = timezone.now() - timedelta(days=1)
    stuck, fine = campaign(name="改过内容"), campaign(name="照常")
    for c in (stuck, fine):
        Campaign.objects.filter(pk=c.pk).update(
            state=Campaign.State.PAUSED, stop_errcode=45009, approved_snapshot=c.snapshot()
        )
        lifecycle.audit(c, None, "auto_paused")
        c.audit.update(at=yesterday)
    Campaign.objects.filter(pk=stuck.pk).update(data={**stuck.data, "thing5": "改了没审核"})
    tasks.start_due_campaigns.call_local()
    stuck.refresh_from_db()
    fine.refresh_from_db()
    assert stuck.state == Campaign.State.PAUSED  # waits for the second approver
    assert fine.state == Campaign.State.COMPLETED


@pytest.mark.parametrize("console_zone", ["UTC", "America/New_York", "Asia/Shanghai"])
def test_the_quota_pause_ends_at_midnight_in_beijing_whatever_the_consoles_time_zone(
    make_account, settings, console_zone
):
    """It followed WXNOTIFY_TIME_ZONE: a console in UTC waited until midnight UTC, eight hours late."""
    from datetime import UTC, datetime

    from tests.subscriptions.conftest import make_template
    from wxnotify.campaigns.models import AuditEntry, Campaign

    settings.TIME_ZONE = console_zone
    account = make_account()
    campaign = Campaign.objects.create(
        account=account,
        template=make_template(account, template_id="T"),
        name="x",
        audience="template",
        state=Campaign.State.PAUSED,
        stop_errcode=45009,
    )
    entry = AuditEntry.objects.create(account=account, campaign=campaign, action="auto_paused")
    AuditEntry.objects.filter(pk=entry.pk).update(at=datetime(2026, 11, 29, 15, 0, tzinfo=UTC))  # 23:00 in Beijing
    assert selectors.stopped_by_yesterdays_quota(now=datetime(2026, 11, 29, 15, 59, tzinfo=UTC)) == []  # 23:59
    assert selectors.stopped_by_yesterdays_quota(now=datetime(2026, 11, 29, 16, 1, tzinfo=UTC)) == [campaign]  # 00:01


def test_a_preview_nobody_can_receive_is_refused_and_says_what_to_do(client, sending):
    """Only a previewer whose credit is used up: the preview would reach nobody and still say "completed"."""
    from tests.campaigns.test_console_pages import member

    account, sim, template, subscribers, campaign = sending
    (staff,) = subscribers(1)
    Previewer.objects.create(account=account, name="宣传科小王", openid=staff)
    Subscription.objects.filter(openid=staff).update(credits=0)
    c = campaign()
    with pytest.raises(services.CampaignError, match="订阅此模板"):
        services.preview(campaign=c, user=None)
    assert not Campaign.objects.filter(audience=Campaign.Audience.PREVIEWERS).exists()  # nothing half-made
    member(client, account, "operator")
    page = client.get(f"/campaigns/{c.pk}/").content.decode()
    assert "data-previewers-cannot-receive" in page and "发送预览</button>" in page and " disabled>" in page
    answer = client.post(f"/campaigns/{c.pk}/preview", follow=True).content.decode()
    assert "订阅此模板" in answer and "操作已完成" not in answer
    Subscription.objects.filter(openid=staff).update(credits=1)  # the previewer subscribes again
    assert "data-previewers-cannot-receive" not in client.get(f"/campaigns/{c.pk}/").content.decode()
