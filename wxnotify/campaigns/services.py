"""Every write to campaigns: create, approve, start (materialise the audience), pause, resume, cancel.
Each action an operator takes is written to the audit log."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from wxnotify.campaigns.models import AuditEntry, Campaign, Delivery, Previewer
from wxnotify.subscriptions.models import Subscription, SubscriptionEvent
from wxnotify.subscriptions.validation import FieldError, validate_fields

log = logging.getLogger(__name__)
MATERIALISE_CHUNK = 5000


class CampaignError(ValueError):
    """An action that cannot be taken now; the message says why, for the operator."""


def audit(campaign: Campaign, user: Any, action: str, **detail: Any) -> None:
    AuditEntry.objects.create(
        account_id=campaign.account_id,
        campaign=campaign,
        user=user if getattr(user, "pk", None) else None,
        action=action,
        detail=detail,
    )


def content_errors(campaign: Campaign) -> list[FieldError]:
    return validate_fields(campaign.template.keywords, campaign.data)


def audience(campaign: Campaign) -> QuerySet[Subscription, str]:
    """The openids a send goes to, fixed when sending starts (people who subscribe later: a follow-up)."""
    current = Subscription.objects.filter(Subscription.current_q(), template=campaign.template)
    if campaign.audience == Campaign.Audience.ACTIVITY:
        accepted = SubscriptionEvent.objects.filter(
            activity=campaign.activity, template=campaign.template, kind=SubscriptionEvent.Kind.ACCEPT
        ).values("openid")
        current = current.filter(openid__in=accepted)
    elif campaign.audience == Campaign.Audience.REACHED_BY:
        reached = Delivery.objects.filter(campaign=campaign.source_campaign, state=Delivery.State.SENT).values("openid")
        current = current.filter(openid__in=reached)
    elif campaign.audience == Campaign.Audience.PREVIEWERS:
        current = current.filter(openid__in=Previewer.objects.filter(account=campaign.account).values("openid"))
    elif campaign.audience == Campaign.Audience.NOT_YET_SENT:
        done = Delivery.objects.filter(campaign=campaign.source_campaign).values("openid")
        current = current.exclude(openid__in=done)
    return current.values_list("openid", flat=True).distinct()


@transaction.atomic
def approve(*, campaign: Campaign, user: Any) -> None:
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state not in (Campaign.State.DRAFT, Campaign.State.AWAITING_APPROVAL):
        raise CampaignError("只有草稿或待审核的通知可以审核。")
    if (
        campaign.created_by_id
        and user
        and campaign.created_by_id == user.pk
        and campaign.account.require_second_approver
    ):
        raise CampaignError("需要另一位审核人审核（双人复核）。")
    if errors := content_errors(campaign):
        raise CampaignError(errors[0].message)
    snapshot = campaign.snapshot()
    Campaign.objects.filter(pk=campaign.pk).update(
        state=Campaign.State.APPROVED,
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
            raise CampaignError("这条通知现在不能开始发送。")
        if errors := content_errors(campaign):
            raise CampaignError(errors[0].message)
        if campaign.approved_snapshot and campaign.approved_snapshot != campaign.snapshot():
            raise CampaignError("内容在审核后被修改过，请重新审核。")
        openids = list(audience(campaign))
        for start_at in range(0, len(openids), MATERIALISE_CHUNK):
            Delivery.objects.bulk_create(
                [Delivery(campaign=campaign, openid=o) for o in openids[start_at : start_at + MATERIALISE_CHUNK]],
                ignore_conflicts=True,  # one delivery per (campaign, recipient), whatever happens
            )
        Campaign.objects.filter(pk=campaign.pk).update(
            state=Campaign.State.SENDING,
            started_at=timezone.now(),
            stop_reason="",
            stop_errcode=None,
            approved_snapshot=campaign.approved_snapshot or campaign.snapshot(),
        )
        audit(campaign, user, "send", recipients=len(openids))
        transaction.on_commit(lambda: wake_workers(campaign.pk, workers))
    return len(openids)


def wake_workers(campaign_id: int, workers: int | None = None) -> None:
    from wxnotify.campaigns.tasks import send_campaign

    for _ in range(settings.WXNOTIFY_SEND_WORKERS if workers is None else workers):
        send_campaign(campaign_id)


def _transition(campaign: Campaign, user: Any, action: str, frm: tuple[str, ...], to: str) -> None:
    with transaction.atomic():
        changed = Campaign.objects.filter(pk=campaign.pk, state__in=frm).update(state=to)
        if not changed:
            raise CampaignError("这条通知当前的状态不允许这个操作。")
        audit(campaign, user, action)


def pause(*, campaign: Campaign, user: Any) -> None:
    _transition(campaign, user, "pause", (Campaign.State.SENDING,), Campaign.State.PAUSED)


def resume(*, campaign: Campaign, user: Any, workers: int | None = None) -> None:
    """After a pause, or after a halt once the operator has fixed the content; delivered people are not sent again."""
    campaign.refresh_from_db()
    if campaign.state == Campaign.State.HALTED and (errors := content_errors(campaign)):
        raise CampaignError(errors[0].message)
    with transaction.atomic():
        changed = Campaign.objects.filter(
            pk=campaign.pk, state__in=(Campaign.State.PAUSED, Campaign.State.HALTED)
        ).update(
            state=Campaign.State.SENDING,
            stop_reason="",
            stop_errcode=None,
            approved_snapshot=campaign.snapshot(),
            canary_released=True,  # "continue" after a canary pause lets the rest go
        )
        if not changed:
            raise CampaignError("只有已暂停或已自动停止的通知可以继续。")
        audit(campaign, user, "resume")
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
            raise CampaignError("已完成或已取消的通知不能取消。")
        Delivery.objects.filter(campaign=campaign, state=Delivery.State.PENDING).update(state=Delivery.State.CANCELLED)
        audit(campaign, user, "cancel")


def retry_unknown(*, campaign: Campaign, user: Any) -> int:
    """The operator decides: deliveries whose outcome stayed unknown are sent again."""
    n = Delivery.objects.filter(campaign=campaign, state=Delivery.State.UNKNOWN).update(state=Delivery.State.PENDING)
    audit(campaign, user, "retry_unknown", deliveries=n)
    return n


def retry_failed_transient(*, campaign: Campaign, user: Any) -> int:
    """Send again to those whose sends failed only for passing reasons (busy, rate, concurrency, network),
    never to those WeChat refused (43101 …) or already reached."""
    from wechat.errors import ERRORS, ErrorClass

    transient = [code for code, info in ERRORS.items() if info.error_class == ErrorClass.TRANSIENT]
    with transaction.atomic():
        n = Delivery.objects.filter(campaign=campaign, state=Delivery.State.FAILED, errcode__in=transient).update(
            state=Delivery.State.PENDING, attempts=0, next_attempt_at=None
        )
        if n and campaign.state == Campaign.State.COMPLETED:
            Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.SENDING, finished_at=None)
            transaction.on_commit(lambda: wake_workers(campaign.pk))
        audit(campaign, user, "retry_failed_transient", deliveries=n)
    return n


def progress(campaign: Campaign) -> dict[str, int]:
    counts = dict(
        Delivery.objects.filter(campaign=campaign)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return {state: counts.get(state, 0) for state in Delivery.State.values} | {"total": sum(counts.values())}


def schedule(*, campaign: Campaign, user: Any) -> Any:
    """Send later: at scheduled_at, or minutes_before_start the activity begins. The minute task starts it."""
    campaign.refresh_from_db()
    at = campaign.scheduled_at
    if campaign.minutes_before_start is not None and campaign.activity_id:
        assert campaign.activity is not None
        at = campaign.activity.starts_at - timedelta(minutes=campaign.minutes_before_start)
    if at is None or at <= timezone.now():
        raise CampaignError("定时时间必须在将来。")
    if errors := content_errors(campaign):
        raise CampaignError(errors[0].message)
    changed = Campaign.objects.filter(pk=campaign.pk, state__in=[Campaign.State.DRAFT, Campaign.State.APPROVED]).update(
        state=Campaign.State.SCHEDULED, scheduled_at=at
    )
    if not changed:
        raise CampaignError("这条通知现在不能定时。")
    audit(campaign, user, "schedule", at=at.isoformat(), quiet=campaign.account.in_quiet_hours(at))
    return at


def previewer_status(campaign: Campaign) -> list[tuple[Previewer, Subscription | None]]:
    """Each previewer, and whether they can receive this template now (a one-time preview uses their credit)."""
    rows = {s.openid: s for s in Subscription.objects.filter(template=campaign.template)}
    return [(p, rows.get(p.openid)) for p in Previewer.objects.filter(account=campaign.account)]


def preview(*, campaign: Campaign, user: Any) -> Campaign:
    """Send the current content to the account's previewers through the same sending path."""
    if errors := content_errors(campaign):
        raise CampaignError(errors[0].message)
    if not Previewer.objects.filter(account=campaign.account).exists():
        raise CampaignError("还没有预览人：请先在公众号设置中添加。")
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
