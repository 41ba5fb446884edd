"""Every write to campaigns: create, approve, start (materialise the audience), pause, resume, cancel.
Each action an operator takes is written to the audit log."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from wxnotify.campaigns import tally
from wxnotify.campaigns.models import AuditEntry, Campaign, Delivery, Previewer
from wxnotify.campaigns.selectors import NOT_FINISHED, audience, content_errors, needs_reapproval

log = logging.getLogger(__name__)


class CampaignError(ValueError):
    """An action that cannot be taken now; the message says why, for the operator (in their language:
    raised while their request is being answered)."""


def audit(campaign: Campaign, user: Any, action: str, **detail: Any) -> None:
    AuditEntry.objects.create(
        account_id=campaign.account_id,
        campaign=campaign,
        user=user if getattr(user, "pk", None) else None,
        action=action,
        detail=detail,
    )


@transaction.atomic
def approve(*, campaign: Campaign, user: Any) -> None:
    """Freeze the content an approver saw. Also after a halt or pause, when the content was changed:
    under the two-person rule that change needs someone else's approval before the send resumes."""
    campaign = Campaign.objects.select_for_update().select_related("account", "template").get(pk=campaign.pk)
    changed_after_start = campaign.state in (Campaign.State.HALTED, Campaign.State.PAUSED) and (
        campaign.approved_snapshot != campaign.snapshot()
    )
    if campaign.state not in (Campaign.State.DRAFT, Campaign.State.AWAITING_APPROVAL) and not changed_after_start:
        raise CampaignError(_("只有草稿、待审核或暂停后修改过内容的通知可以审核。"))
    author = campaign.edited_by_id or campaign.created_by_id
    if author and user and author == user.pk and campaign.account.require_second_approver:
        raise CampaignError(_("需要另一位审核人审核（双人复核）。"))
    if errors := content_errors(campaign):
        raise CampaignError(errors[0].message)
    snapshot = campaign.snapshot()
    Campaign.objects.filter(pk=campaign.pk).update(
        state=campaign.state if changed_after_start else Campaign.State.APPROVED,
        approved_snapshot=snapshot,
        approved_by=user if getattr(user, "pk", None) else None,
    )
    audit(campaign, user, "approve", digest=Campaign.snapshot_digest(snapshot))


def start(*, campaign: Campaign, user: Any, workers: int | None = None) -> int:
    """Fix the audience as deliveries and wake the workers. Returns the number of recipients."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().select_related("template", "account").get(pk=campaign.pk)
        allowed: set[str] = {Campaign.State.APPROVED, Campaign.State.SCHEDULED}
        if not campaign.account.require_second_approver:
            allowed.add(Campaign.State.DRAFT)
        if campaign.state not in allowed:
            raise CampaignError(_("这条通知现在不能开始发送。"))
        if errors := content_errors(campaign):
            raise CampaignError(errors[0].message)
        if campaign.approved_snapshot and campaign.approved_snapshot != campaign.snapshot():
            raise CampaignError(_("内容在审核后被修改过，请重新审核。"))
        recipients = materialise(campaign)
        if campaign.canary_percent and not campaign.canary_count:  # x% of the audience, fixed now with it
            campaign.canary_count = max(1, math.ceil(recipients * campaign.canary_percent / 100))
            Campaign.objects.filter(pk=campaign.pk).update(canary_count=campaign.canary_count)
        Campaign.objects.filter(pk=campaign.pk).update(
            state=Campaign.State.SENDING,
            started_at=timezone.now(),
            woken_at=timezone.now(),  # with the state: the minute task must not think nobody was asked
            stop_reason="",
            stop_errcode=None,
            approved_snapshot=campaign.approved_snapshot or campaign.snapshot(),
        )
        audit(campaign, user, "send", recipients=recipients)
        transaction.on_commit(lambda: wake_workers(campaign.pk, workers))
    return recipients


def materialise(campaign: Campaign) -> int:
    """The audience as one delivery row each, in the database (INSERT … SELECT: the openids never come
    into Python, whatever the size); one per (campaign, recipient) whatever happens. Returns how many."""
    from django.db import connection

    select, params = audience(campaign).query.sql_with_params()
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, openid, state, attempts, errmsg, worker) "  # noqa: S608
            # "WHERE true": SQLite would read ON CONFLICT as a join's ON without it
            f"SELECT %s, openid, 'pending', 0, '', '' FROM ({select}) audience WHERE true "
            "ON CONFLICT (campaign_id, openid) DO NOTHING",
            [campaign.pk, *params],
        )
        inserted = cursor.rowcount
    tally.add(campaign.pk, {"pending": inserted})
    return inserted


def wake_workers(campaign_id: int, workers: int | None = None) -> None:
    from wxnotify.campaigns.tasks import send_campaign

    Campaign.objects.filter(pk=campaign_id).update(woken_at=timezone.now())
    for _worker in range(settings.WXNOTIFY_SEND_WORKERS if workers is None else workers):
        send_campaign(campaign_id)


STALL_SECONDS = 120


def revive_stalled(now: Any = None) -> list[int]:
    """Sending campaigns nobody works on: every worker died (kill -9, a lost machine, a restarted queue)
    and the queue's message went with them. Pending work, no live lease and no wake-up for a while:
    wake one worker. A live engine holds leases on what it sends, so it is not doubled (and if it were,
    claims keep every delivery exactly once)."""
    now = now or timezone.now()
    quiet_since = now - timedelta(seconds=STALL_SECONDS)
    revived = []
    stale = Campaign.objects.filter(state=Campaign.State.SENDING).filter(
        Q(woken_at__isnull=True) | Q(woken_at__lt=quiet_since)
    )
    for campaign in stale:
        rows = Delivery.objects.filter(campaign=campaign)
        if rows.filter(lease_until__gt=now).exists():
            continue
        due = rows.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), state=Delivery.State.PENDING)
        if due.exists() or not rows.filter(state__in=NOT_FINISHED).exists():
            log.warning("campaign %s was sending with nobody working on it: waking a worker", campaign.pk)
            audit(campaign, None, "revive")
            revived.append(campaign.pk)
    for pk in revived:
        wake_workers(pk, 1)
    return revived


def _transition(campaign: Campaign, user: Any, action: str, frm: tuple[str, ...], to: str) -> None:
    with transaction.atomic():
        changed = Campaign.objects.filter(pk=campaign.pk, state__in=frm).update(state=to)
        if not changed:
            raise CampaignError(_("这条通知当前的状态不允许这个操作。"))
        audit(campaign, user, action)


def pause(*, campaign: Campaign, user: Any) -> None:
    _transition(campaign, user, "pause", (Campaign.State.SENDING,), Campaign.State.PAUSED)


def resume(*, campaign: Campaign, user: Any, workers: int | None = None) -> None:
    """After a pause, or after a halt once the operator has fixed the content; delivered people are not sent again."""
    campaign = Campaign.objects.select_related("account", "template").get(pk=campaign.pk)
    if campaign.state == Campaign.State.HALTED and (errors := content_errors(campaign)):
        raise CampaignError(errors[0].message)
    if needs_reapproval(campaign):
        raise CampaignError(_("内容在审核后被修改过：需要另一位审核人重新审核后才能继续发送。"))
    with transaction.atomic():
        changed = Campaign.objects.filter(
            pk=campaign.pk, state__in=(Campaign.State.PAUSED, Campaign.State.HALTED)
        ).update(
            state=Campaign.State.SENDING,
            woken_at=timezone.now(),
            stop_reason="",
            stop_errcode=None,
            approved_snapshot=campaign.snapshot(),
            canary_released=True,  # "continue" after a canary pause lets the rest go
        )
        if not changed:
            raise CampaignError(_("只有已暂停或已自动停止的通知可以继续。"))
        audit(campaign, user, "resume", digest=Campaign.snapshot_digest(campaign.snapshot()))
        transaction.on_commit(lambda: wake_workers(campaign.pk, workers))


def cancel(*, campaign: Campaign, user: Any) -> None:
    with transaction.atomic():
        changed = Campaign.objects.filter(
            pk=campaign.pk,
            state__in=[
                s for s in Campaign.State.values if s not in (Campaign.State.COMPLETED, Campaign.State.CANCELLED)
            ],
        ).update(state=Campaign.State.CANCELLED, finished_at=timezone.now())
        if not changed:
            raise CampaignError(_("已完成或已取消的通知不能取消。"))
        n = Delivery.objects.filter(campaign=campaign, state=Delivery.State.PENDING).update(
            state=Delivery.State.CANCELLED
        )
        tally.add(campaign.pk, {"pending": -n, "cancelled": n})
        audit(campaign, user, "cancel")


def _requeue(
    campaign: Campaign, user: Any, action: str, rows: QuerySet[Delivery], from_state: str, **fields: Any
) -> int:
    """Send some deliveries again: back to pending, and a completed campaign sends again (it would otherwise
    keep them pending for ever); a paused or halted one sends them when resumed."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state == Campaign.State.CANCELLED:
            raise CampaignError(_("已取消的通知不能重发。"))
        n = rows.filter(state=from_state).update(state=Delivery.State.PENDING, **fields)
        tally.add(campaign.pk, {from_state: -n, "pending": n})
        if n and campaign.state == Campaign.State.COMPLETED:
            Campaign.objects.filter(pk=campaign.pk).update(
                state=Campaign.State.SENDING, finished_at=None, woken_at=timezone.now()
            )
            transaction.on_commit(lambda: wake_workers(campaign.pk))
        audit(campaign, user, action, deliveries=n)
    return n


def retry_unknown(*, campaign: Campaign, user: Any) -> int:
    """The operator decides: deliveries whose outcome stayed unknown are sent again."""
    rows = Delivery.objects.filter(campaign=campaign, state=Delivery.State.UNKNOWN)
    return _requeue(campaign, user, "retry_unknown", rows, Delivery.State.UNKNOWN, next_attempt_at=None)


def retry_failed_transient(*, campaign: Campaign, user: Any) -> int:
    """Send again to those whose sends failed only for passing reasons (busy, rate, concurrency, network),
    never to those WeChat refused (43101 …) or already reached."""
    from wechat.errors import ERRORS, ErrorClass

    transient = [code for code, info in ERRORS.items() if info.error_class == ErrorClass.TRANSIENT]
    rows = Delivery.objects.filter(campaign=campaign, state=Delivery.State.FAILED, errcode__in=transient)
    return _requeue(
        campaign, user, "retry_failed_transient", rows, Delivery.State.FAILED, attempts=0, next_attempt_at=None
    )


def schedule(*, campaign: Campaign, user: Any) -> Any:
    """Send later: at scheduled_at, or minutes_before_start the activity begins. The minute task starts it."""
    campaign.refresh_from_db()
    at = campaign.scheduled_at
    if campaign.minutes_before_start is not None and campaign.activity_id:
        assert campaign.activity is not None
        at = campaign.activity.starts_at - timedelta(minutes=campaign.minutes_before_start)
    if at is None or at <= timezone.now():
        raise CampaignError(_("定时时间必须在将来。"))
    if errors := content_errors(campaign):
        raise CampaignError(errors[0].message)
    changed = Campaign.objects.filter(pk=campaign.pk, state__in=[Campaign.State.DRAFT, Campaign.State.APPROVED]).update(
        state=Campaign.State.SCHEDULED, scheduled_at=at
    )
    if not changed:
        raise CampaignError(_("这条通知现在不能定时。"))
    audit(campaign, user, "schedule", at=at.isoformat(), quiet=campaign.account.in_quiet_hours(at))
    return at


def preview(*, campaign: Campaign, user: Any) -> Campaign:
    """Send the current content to the account's previewers through the same sending path."""
    if errors := content_errors(campaign):
        raise CampaignError(errors[0].message)
    if not Previewer.objects.filter(account=campaign.account).exists():
        raise CampaignError(_("还没有预览人：请先在「发送通知 → 预览人」中添加。"))
    trial = Campaign.objects.create(
        account=campaign.account,
        name=f"预览：{campaign.name}"[:100],
        template=campaign.template,
        audience=Campaign.Audience.PREVIEWERS,
        source_campaign=campaign,
        data=campaign.data,
        page=campaign.page,
        miniprogram_appid=campaign.miniprogram_appid,
        miniprogram_pagepath=campaign.miniprogram_pagepath,
        created_by=user if getattr(user, "pk", None) else None,
    )
    start(campaign=trial, user=user, workers=1)
    audit(campaign, user, "preview", preview_campaign=trial.pk)
    return trial
