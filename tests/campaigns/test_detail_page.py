"""A send's page as the operator reads it: the speed over the time it actually sent, the list without
previews or deleted drafts, a preview's own page, deleting a draft."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.campaigns.test_console_pages import member
from wxnotify.campaigns import selectors, services
from wxnotify.campaigns.models import Action, AuditEntry, Campaign, Previewer

pytestmark = pytest.mark.django_db(transaction=True)


def test_sending_time_counts_only_the_spans_it_was_sending(sending):
    account, sim, template, subscribers, campaign = sending
    c = campaign()
    t0 = timezone.now() - timedelta(hours=2)
    for action, minutes in [
        (Action.SEND, 0),
        (Action.PAUSE, 10),  # 10 min sending
        (Action.RESUME, 60),  # 50 min paused: not counted
        (Action.AUTO_PAUSED, 65),  # 5 min (quiet hours began)
        (Action.AUTO_RESUMED, 80),
        (Action.COMPLETED, 82),  # 2 min
        (Action.RETRY_UNKNOWN, 100),  # the operator sent the unknown ones again: 1 min more
        (Action.COMPLETED, 101),
    ]:
        entry = AuditEntry.objects.create(account=account, campaign=c, action=action)
        AuditEntry.objects.filter(pk=entry.pk).update(at=t0 + timedelta(minutes=minutes))
    c.state = Campaign.State.COMPLETED
    assert selectors.sending_seconds(c, timezone.now()) == 18 * 60  # an hour later: the same
    c.state = Campaign.State.SENDING  # still sending since the last start: up to now
    AuditEntry.objects.filter(campaign=c, action=Action.COMPLETED).order_by("-at").first().delete()
    now = t0 + timedelta(minutes=103)
    assert selectors.sending_seconds(c, now) == 17 * 60 + 3 * 60


def test_the_list_leaves_out_previews_and_deleted_drafts_and_a_preview_points_back(client, sending):
    account, sim, template, subscribers, campaign = sending
    (staff,) = subscribers(1)
    Previewer.objects.create(account=account, name="宣传科小王", openid=staff)
    kept, dropped = campaign(name="九价到货"), campaign(name="写错的草稿")
    trial = services.preview(campaign=kept, user=None)
    member(client, account, "operator")
    answer = client.post(f"/campaigns/{dropped.pk}/cancel", follow=True)
    assert answer.redirect_chain[-1][0] == "/campaigns/" and "草稿「写错的草稿」已删除" in answer.content.decode()
    listing = client.get("/campaigns/").content.decode()
    assert "九价到货" in listing and "写错的草稿" not in listing and trial.name not in listing
    entry = AuditEntry.objects.get(campaign=dropped, action=Action.CANCEL)
    assert entry.label == "删除草稿"  # the audit log keeps it, in words
    own = client.get(f"/campaigns/{trial.pk}/").content.decode()
    assert "data-preview-of" in own and f"/campaigns/{kept.pk}/" in own and "发送预览</button>" not in own
    page = client.get(f"/campaigns/{kept.pk}/").content.decode()
    assert f"/campaigns/{trial.pk}/" in page  # the preview sits with its notification


def test_the_log_shows_its_totals_and_where_the_page_is(client, sending):
    from tests.campaigns.test_sending_on_wxsim import run_engines

    account, sim, template, subscribers, campaign = sending
    subscribers(60, product_only=5)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    member(client, account, "viewer")
    first = client.get(f"/campaigns/{c.pk}/log/").content.decode()
    assert "共 65 人" in first and 'data-total="sent">已发送 60<' in first and 'data-total="failed">失败 5<' in first
    assert "第 1–50 条，共 65 条" in first
    older = c.deliveries.order_by("-id")[49].pk  # the pager's cursor: the last row shown
    second = client.get(f"/campaigns/{c.pk}/log/?before={older}").content.decode()
    assert "第 51–65 条，共 65 条" in second
    failed = client.get(f"/campaigns/{c.pk}/log/?state=failed").content.decode()
    assert "第 1–5 条，共 5 条" in failed
    by_code = client.get(f"/campaigns/{c.pk}/log/?errcode=43101").content.decode()
    assert "第 1–5 条，共 5 条" in by_code


def test_the_preflight_estimate_uses_the_speed_reached_lately_when_lower(client, sending):
    from wxnotify.campaigns import tally

    account, sim, template, subscribers, campaign = sending
    subscribers(10)
    done = campaign(name="上次的发送")
    t0 = timezone.now() - timedelta(days=1)
    for action, seconds in [(Action.SEND, 0), (Action.PAUSE, 40), (Action.RESUME, 600), (Action.COMPLETED, 660)]:
        entry = AuditEntry.objects.create(account=account, campaign=done, action=action)
        AuditEntry.objects.filter(pk=entry.pk).update(at=t0 + timedelta(seconds=seconds))
    Campaign.objects.filter(pk=done.pk).update(
        state=Campaign.State.COMPLETED, started_at=t0, finished_at=t0 + timedelta(seconds=660)
    )
    tally.add(done.pk, {"sent": 200})  # 200 sent in 100 s of sending (the pause does not count): 2/s
    assert selectors.reached_rate(account) == 2.0
    draft = campaign(name="这次")
    numbers = selectors.preflight(draft)
    assert numbers["rate"] == 2.0 and numbers["estimated_seconds"] == 5.0  # 10 people at 2/s, not at 500/s
    member(client, account, "operator")
    page = client.get(f"/campaigns/{draft.pk}/").content.decode()
    assert "最近几次发送实际达到的速度" in page
