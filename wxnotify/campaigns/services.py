"""Every write to campaigns: compose, submit, approve, preview, schedule, start (materialise the audience),
pause, resume, cancel, retry; WeChat's delivery reports; previewers; the minute task's work. Each state
change goes through `lifecycle.transition` (who may, from which state, audited); reads are in selectors."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from wechat.messages import SentResult, SubscribeSentEvent
from wxnotify.accounts.models import OfficialAccount
from wxnotify.campaigns import clicks, lifecycle, selectors, tally
from wxnotify.campaigns import queue as work_queue
from wxnotify.campaigns.lifecycle import CampaignError
from wxnotify.campaigns.models import Action, Campaign, Click, Delivery, Previewer
from wxnotify.campaigns.selectors import (
    NOT_FINISHED,
    audience,
    content_errors,
    needs_reapproval,
    target,
    unfollowed_openids,
)
from wxnotify.campaigns.sending import rules
from wxnotify.campaigns.sending.django_store import expire_leases, patiently
from wxnotify.subscriptions.models import Subscription, Template
from wxnotify.subscriptions.services import use_credits

log = logging.getLogger(__name__)
__all__ = ["CampaignError"]


def save(*, campaign: Campaign, user: User | None) -> Campaign:
    """Save composed content (a form's instance, not yet saved): a new draft, or a change to one, or to a
    paused or halted send (which then needs approving again where a second approver is required)."""
    with transaction.atomic():
        if campaign.pk is None:
            campaign.created_by = user if getattr(user, "pk", None) else None
            campaign.edited_by = campaign.created_by
            campaign.save()
            lifecycle.audit(campaign, user, Action.EDIT, **version(campaign.snapshot()))
            return campaign
        editor = user if getattr(user, "pk", None) else None
        lifecycle.take(campaign.pk, Action.EDIT, user=user)
        campaign.edited_by = editor
        campaign.save()
        lifecycle.audit(campaign, user, Action.EDIT, **version(campaign.snapshot()))
    return campaign


def version(snapshot: dict[str, Any]) -> dict[str, Any]:
    """An audit entry's record of the content it concerns: the digest names the version, the snapshot lets
    the log show exactly what was written or approved."""
    return {"digest": Campaign.snapshot_digest(snapshot), "snapshot": snapshot}


def submit(*, campaign: Campaign, user: User | None) -> None:
    """The operator says the draft is ready: it waits for an approver (the two-person rule)."""
    if errors := content_errors(campaign):
        raise CampaignError(errors[0].message)
    lifecycle.transition(campaign, Action.SUBMIT, user=user)


def approve(*, campaign: Campaign, user: User | None) -> None:
    """Freeze the content an approver saw. Also after a halt or pause, when the content was changed:
    under the two-person rule that change needs someone else's approval before the send resumes."""
    with transaction.atomic():
        locked = lifecycle.take(campaign, Action.APPROVE, user=user)
        if errors := content_errors(locked):
            raise CampaignError(errors[0].message)
        snapshot = locked.snapshot()
        lifecycle.apply(
            locked,
            Action.APPROVE,
            user=user,
            detail=version(snapshot),
            approved_snapshot=snapshot,
            approved_by=user if getattr(user, "pk", None) else None,
        )


def start(*, campaign: Campaign, user: User | None, workers: int | None = None) -> int:
    """Fix the audience as deliveries and wake the workers. Returns the number of recipients."""
    with transaction.atomic():
        locked = lifecycle.take(campaign, Action.SEND, user=user)
        if errors := content_errors(locked):
            raise CampaignError(errors[0].message)
        if locked.approved_snapshot and locked.approved_snapshot != locked.snapshot():
            raise CampaignError(_("内容在审核后被修改过，请重新审核。"))
        recipients, skipped = materialise(locked)
        canary = locked.canary_count
        if locked.canary_percent and not canary:  # x% of the audience, fixed now with it
            canary = max(1, math.ceil(recipients * locked.canary_percent / 100))
        now = timezone.now()
        lifecycle.apply(
            locked,
            Action.SEND,
            user=user,
            detail={"recipients": recipients, "skipped": skipped},
            canary_count=canary,
            started_at=now,
            woken_at=now,  # with the state: the minute task must not think nobody was asked
            stop_reason="",
            stop_errcode=None,
            approved_snapshot=locked.approved_snapshot or locked.snapshot(),
        )
        transaction.on_commit(lambda: wake_workers(locked.pk, workers))
    return recipients


def materialise(campaign: Campaign) -> tuple[int, int]:
    """Everyone the send is meant for as one delivery row each, in the database (INSERT … SELECT: the openids
    never come into Python, whatever the size); one per (campaign, person) whatever happens. Those who can
    receive it are pending; those who cannot (no credit left, unfollowed) are skipped at once with their
    reason, so the log accounts for the whole target. Returns how many are to be sent, and how many skipped."""
    to_send = _insert_deliveries(campaign, audience(campaign), "pending", "")
    rows = target(campaign)
    no_credit = _insert_deliveries(campaign, rows.exclude(Subscription.current_q()), "skipped", rules.NO_CREDIT)
    unfollowed = 0
    if campaign.skips_unfollowed:
        left = rows.filter(Subscription.current_q(), openid__in=unfollowed_openids(campaign))
        unfollowed = _insert_deliveries(campaign, left, "skipped", rules.UNFOLLOWED)
    tally.add(campaign.pk, {"pending": to_send, "skipped": no_credit + unfollowed})
    return to_send, no_credit + unfollowed


def _insert_deliveries(campaign: Campaign, rows: QuerySet[Any], state: str, reason: str) -> int:
    """A delivery row per openid of `rows` (ledger rows), in `state`; a skipped one is finished now."""
    from django.db import connection

    select, params = rows.order_by("openid").values_list("openid", flat=True).query.sql_with_params()
    finished = connection.ops.adapt_datetimefield_value(timezone.now()) if state == "skipped" else None
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, openid, state, attempts, errmsg, worker, finished_at) "  # noqa: S608
            # "WHERE true": SQLite would read ON CONFLICT as a join's ON without it
            f"SELECT %s, openid, %s, 0, %s, '', %s FROM ({select}) audience WHERE true "
            "ON CONFLICT (campaign_id, openid) DO NOTHING",
            [campaign.pk, state, reason, finished, *params],
        )
        return int(cursor.rowcount)


def wake_workers(campaign_id: int, count: int | None = None) -> None:
    """Ask workers to work on a send (they find their work in the deliveries table, not in the message)."""
    Campaign.objects.filter(pk=campaign_id).update(woken_at=timezone.now())
    work_queue.enqueue(campaign_id, settings.WXNOTIFY_SEND_WORKERS if count is None else count)


def revive_stalled(now: Any = None) -> list[int]:
    """Sending campaigns nobody works on: every worker died (kill -9, a lost machine, a restarted queue)
    and the queue's message went with them. Pending work, no live lease and nobody woken for a lease's time
    (a live engine renews its leases three times a lease, so a lease's silence means no engine holds the
    send): wake the send's workers again. If an engine was only between two claims, claims still keep every
    delivery exactly once; the extra engine finishes with the send."""
    now = now or timezone.now()
    quiet_since = now - timedelta(seconds=settings.WXNOTIFY_SEND_LEASE_SECONDS)
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
            held = selectors.stalled_rows(campaign)
            log.warning(
                "campaign %s was sending with nobody working on it (unfinished rows by state %s, the last workers "
                "named on them %s, a row last finished at %s, workers last woken at %s): waking a worker",
                campaign.pk,
                held["by_state"],
                held["workers"] or "none",
                held["last_progress"] or "never",
                held["woken_at"] or "never",
            )
            try:
                lifecycle.transition(campaign, Action.REVIVE, user=None, detail={"stalled": held}, woken_at=now)
            except CampaignError:
                continue  # it stopped sending meanwhile
            revived.append(campaign.pk)
    for pk in revived:
        wake_workers(pk)
    return revived


def look_after_sends() -> None:
    """Lost leases become unknown, and sends nobody works on are revived (the minute task, and a worker that
    has just started, once the leases of the one it may replace have run out)."""
    # On SQLite a busy send can hold the write lock past busy_timeout: retried whole, like the store's writes.
    patiently(expire_leases)()
    patiently(revive_stalled)()


def pause(*, campaign: Campaign, user: User | None) -> None:
    lifecycle.transition(campaign, Action.PAUSE, user=user)


def resume(*, campaign: Campaign, user: User | None, workers: int | None = None) -> None:
    """After a pause, or after a halt once the operator has fixed the content; delivered people are not
    sent again. An operator's "continue" after a canary pause lets the rest go."""
    _go_on(campaign, user, Action.RESUME, workers, canary_released=True)


def auto_resume(*, campaign: Campaign, why: str) -> None:
    """The system goes on with a send it paused (quiet hours over, a new day's quota). A send that cannot go
    on (its content changed and awaits a second approval, …) stays paused, and its page says why; a canary
    still waits for its operator."""
    try:
        _go_on(campaign, None, Action.AUTO_RESUMED, None, reason=why)
    except CampaignError as error:
        log.warning("campaign %s stays paused after %s: %s", campaign.pk, why, error)


def _go_on(campaign: Campaign, user: User | None, action: Action, count: int | None, **extra: Any) -> None:
    with transaction.atomic():
        locked = lifecycle.take(campaign, action, user=user)
        if locked.state == Campaign.State.HALTED and (errors := content_errors(locked)):
            raise CampaignError(errors[0].message)
        if needs_reapproval(locked):
            raise CampaignError(_("内容在审核后被修改过：需要另一位审核人重新审核后才能继续发送。"))
        snapshot = locked.snapshot()
        detail = version(snapshot) | ({"reason": extra.pop("reason")} if "reason" in extra else {})
        lifecycle.apply(
            locked,
            action,
            user=user,
            detail=detail,
            woken_at=timezone.now(),
            stop_reason="",
            stop_errcode=None,
            approved_snapshot=snapshot,
            **extra,
        )
        transaction.on_commit(lambda: wake_workers(locked.pk, count))


# Notifications not yet on their way: cancelling one deletes a draft (it leaves the lists; its record stays
# for the audit log).
DRAFTS = (Campaign.State.DRAFT, Campaign.State.AWAITING_APPROVAL, Campaign.State.APPROVED)


def cancel(*, campaign: Campaign, user: User | None) -> None:
    """Stop a send for good, or delete a draft."""
    with transaction.atomic():
        draft = {"draft": True} if campaign.state in DRAFTS else None
        lifecycle.transition(campaign, Action.CANCEL, user=user, detail=draft, finished_at=timezone.now())
        n = Delivery.objects.filter(campaign=campaign, state=Delivery.State.PENDING).update(
            state=Delivery.State.CANCELLED
        )
        tally.add(campaign.pk, {"pending": -n, "cancelled": n})


def _requeue(
    campaign: Campaign, user: User | None, action: Action, rows: QuerySet[Delivery], from_state: str, **fields: Any
) -> int:
    """Send some deliveries again: back to pending, and a completed campaign sends again (it would otherwise
    keep them pending for ever); a paused or halted one sends them when resumed."""
    with transaction.atomic():
        locked = lifecycle.take(campaign, action, user=user)
        n = rows.filter(state=from_state).update(state=Delivery.State.PENDING, **fields)
        tally.add(locked.pk, {from_state: -n, "pending": n})
        if not n:  # nothing to send again: a completed send stays completed
            lifecycle.audit(locked, user, action, deliveries=0)
            return 0
        reopens = locked.state == Campaign.State.COMPLETED
        changes: dict[str, Any] = {"finished_at": None, "woken_at": timezone.now()} if reopens else {}
        lifecycle.apply(locked, action, user=user, detail={"deliveries": n}, **changes)
        if reopens:
            transaction.on_commit(lambda: wake_workers(locked.pk))
    return n


def retry_unknown(*, campaign: Campaign, user: User | None) -> int:
    """The operator decides: deliveries whose outcome stayed unknown are sent again."""
    rows = Delivery.objects.filter(campaign=campaign, state=Delivery.State.UNKNOWN)
    return _requeue(campaign, user, Action.RETRY_UNKNOWN, rows, Delivery.State.UNKNOWN, next_attempt_at=None)


def retry_failed_transient(*, campaign: Campaign, user: User | None) -> int:
    """Send again to those whose sends failed only for passing reasons (busy, rate, concurrency, network),
    never to those WeChat refused (43101 …) or already reached."""
    from wechat.errors import ERRORS, ErrorClass

    transient = [code for code, info in ERRORS.items() if info.error_class == ErrorClass.TRANSIENT]
    rows = Delivery.objects.filter(campaign=campaign, state=Delivery.State.FAILED, errcode__in=transient)
    return _requeue(
        campaign, user, Action.RETRY_FAILED_TRANSIENT, rows, Delivery.State.FAILED, attempts=0, next_attempt_at=None
    )


def _send_at(campaign: Campaign) -> Any:
    if campaign.minutes_before_start is not None and campaign.activity is not None:
        return campaign.activity.starts_at - timedelta(minutes=campaign.minutes_before_start)
    return campaign.scheduled_at


def schedule(*, campaign: Campaign, user: User | None) -> Any:
    """Send later: at scheduled_at, or minutes_before_start the activity begins. The minute task starts it."""
    with transaction.atomic():
        locked = lifecycle.take(campaign, Action.SCHEDULE, user=user)
        at = _send_at(locked)
        if at is None or at <= timezone.now():
            raise CampaignError(_("定时时间必须在将来。"))
        if errors := content_errors(locked):
            raise CampaignError(errors[0].message)
        detail = {"at": at.isoformat(), "quiet": locked.account.in_quiet_hours(at)}
        lifecycle.apply(locked, Action.SCHEDULE, user=user, detail=detail, scheduled_at=at)
    return at


def start_or_schedule(*, campaign: Campaign, user: User | None) -> Any:
    """ "Send" (the console's button, the API's start): at once, or at the time the notification was composed
    with. Returns that time, or None for a send that started."""
    if campaign.scheduled_at or campaign.minutes_before_start is not None:
        return schedule(campaign=campaign, user=user)
    start(campaign=campaign, user=user)
    return None


def preview(*, campaign: Campaign, user: User | None) -> Campaign:
    """Send the current content to the account's previewers through the same sending path. The trial send
    is approved as it is made: it goes to staff only, whatever the two-person rule asks of the real one."""
    with transaction.atomic():
        locked = lifecycle.take(campaign, Action.PREVIEW, user=user)
        if errors := content_errors(locked):
            raise CampaignError(errors[0].message)
        if not Previewer.objects.filter(account=locked.account).exists():
            raise CampaignError(_("还没有预览人：请先在「发送通知 → 预览人」中添加。"))
        trial = Campaign(
            account=locked.account,
            name=f"预览：{locked.name}"[:100],
            template=locked.template,
            audience=Campaign.Audience.PREVIEWERS,
            source_campaign=locked,
            data=locked.data,
            title=locked.title,
            page=locked.page,
            miniprogram_appid=locked.miniprogram_appid,
            miniprogram_pagepath=locked.miniprogram_pagepath,
            created_by=user if getattr(user, "pk", None) else None,
            state=Campaign.State.APPROVED,
        )
        if not audience(trial).exists():  # it would go to nobody and still say "completed"
            raise CampaignError(
                _(
                    "没有预览人能收到这次预览：预览人需先在微信里订阅此模板（打开含订阅按钮的文章点「订阅」），"
                    "订阅次数用完后再订阅一次。"
                )
            )
        trial.approved_snapshot = trial.snapshot()
        trial.save()
        lifecycle.audit(locked, user, Action.PREVIEW, preview_campaign=trial.pk)
    start(campaign=trial, user=user, workers=1)
    return trial


# --- what the system does by itself ---------------------------------------------------------------


def run_minute(now: datetime | None = None) -> None:
    """The minute task: lost leases become unknown, sends nobody works on are revived, sends paused by
    quiet hours or the daily quota go on when those end, scheduled sends follow their activity and start."""
    look_after_sends()
    now = now or timezone.now()
    for campaign in selectors.paused_by_quiet_hours(now=now):
        auto_resume(campaign=campaign, why="quiet hours ended")
    for campaign in selectors.stopped_by_yesterdays_quota(now=now):
        auto_resume(campaign=campaign, why="a new day's quota")
    for campaign in selectors.scheduled_before_their_activity():
        reschedule(campaign)
    for campaign in selectors.due_to_start(now=now):
        try:
            start(campaign=campaign, user=None)
        except CampaignError as error:
            log.warning("scheduled campaign %s could not start: %s", campaign.pk, error)


def reschedule(campaign: Campaign) -> None:
    """ "N minutes before the activity" follows the activity when its time is changed after scheduling."""
    at = _send_at(campaign)
    if at is not None and at != campaign.scheduled_at:
        lifecycle.transition(campaign, Action.RESCHEDULE, user=None, detail={"at": at.isoformat()}, scheduled_at=at)
        campaign.scheduled_at = at


def record_click(*, code: str) -> str | None:
    """A recipient tapped their notification's link: count the tap and answer where to send them — the web
    page the send went out with, from the campaign, never from the request. None (nothing counted) for a code
    we did not sign or whose delivery is gone."""
    delivery_id = clicks.delivery_of(code)
    if delivery_id is None:
        return None
    delivery = (
        Delivery.objects.filter(pk=delivery_id)
        .select_related("campaign")
        .only("id", "openid", "campaign__id", "campaign__account_id", "campaign__approved_snapshot", "campaign__page")
        .first()
    )
    if delivery is None:
        return None
    campaign = delivery.campaign
    target = str((campaign.approved_snapshot or {}).get("page") or campaign.page or "")
    if not target:
        return None  # a send without a web page never handed out this link
    Click.objects.create(
        account_id=campaign.account_id,
        campaign=campaign,
        delivery_id=delivery.pk,
        openid=delivery.openid,
        at=timezone.now(),
    )
    return target


def record_delivery_reports(*, account: OfficialAccount, event: SubscribeSentEvent) -> None:
    """WeChat's report of what it delivered (subscribe_msg_sent_event): confirms sends, and settles the ones
    whose answer we never got (worker died, timeout, still waiting)."""
    at = datetime.fromtimestamp(max(event.create_time, 0), tz=UTC)
    for result in event.results:
        if _confirm(account, result.msg_id, at):
            continue
        if not _settle_from_report(account=account, event=event, result=result, at=at):
            # The worker's write-back (msgid and all) landed between our first look and the settling: the
            # report still confirms that row. (PostgreSQL: each statement sees what committed before it.)
            _confirm(account, result.msg_id, at)


def _confirm(account: OfficialAccount, msgid: int, at: datetime) -> int:
    """Mark the row WeChat's report names as confirmed. A send of 100,000 brings 100,000 reports at the send's
    rate, nearly all of them for rows already written back: one statement of fixed text (the ORM compiling
    this update's join for each report was a large part of the callback's time)."""
    from django.db import connection

    if not -(2**63) <= msgid < 2**63:  # no row holds it (the ORM's lookups say the same without asking)
        return 0
    campaigns, deliveries = Campaign._meta.db_table, Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {deliveries} SET confirmed_at = %s WHERE msgid = %s "  # noqa: S608 - table names, not input
            f"AND campaign_id IN (SELECT id FROM {campaigns} WHERE account_id = %s)",
            [connection.ops.adapt_datetimefield_value(at), msgid, account.pk],
        )
        return int(cursor.rowcount)


def _settle_from_report(
    *, account: OfficialAccount, event: SubscribeSentEvent, result: SentResult, at: datetime
) -> bool:
    """A report for a row whose answer we never wrote: settle it from WeChat's word; False if none was found
    or someone else settled it first."""
    # CreateTime has whole seconds, hence the margin.
    unknown = (
        Delivery.objects.filter(
            campaign__account=account,
            campaign__template__template_id=result.template_id,
            openid=event.openid,
            state__in=[Delivery.State.UNKNOWN, Delivery.State.SENDING],
            msgid__isnull=True,
            attempt_started_at__lte=at + timedelta(seconds=2),
        )
        .select_related("campaign__template")
        .order_by("attempt_started_at")
        .first()
    )
    if unknown is None:
        return False
    if result.delivered:
        settled = _settle(
            unknown,
            Delivery.State.SENT,
            msgid=result.msg_id,
            errcode=0,
            errmsg="confirmed by WeChat",
            confirmed_at=at,
            finished_at=at,
        )
        if settled and unknown.campaign.template.kind != Template.Kind.LONG_TERM:
            use_credits(template_id=unknown.campaign.template_id, openids=[event.openid])
        return settled
    return _settle(
        unknown,
        Delivery.State.FAILED,
        msgid=result.msg_id,
        errcode=result.error_code,
        errmsg=result.error_status,
        finished_at=at,
    )


def _settle(delivery: Delivery, state: str, **fields: object) -> bool:
    """Settle one row still unknown (or sending) to `state`, moving the campaign's counts; False if someone
    else settled it first (the worker's write-back, at the same moment).

    One locked read, then the write: trying "unknown" and then "sending" in two statements lost the report
    when the lease ran out between them (the row went sending → unknown, and each statement missed it)."""
    with transaction.atomic():
        locked = (
            Delivery.objects.select_for_update()
            .filter(pk=delivery.pk, state__in=[Delivery.State.UNKNOWN, Delivery.State.SENDING])
            .values_list("state", flat=True)
            .first()
        )
        if locked is None:
            return False
        Delivery.objects.filter(pk=delivery.pk).update(state=state, **fields)
        tally.add(delivery.campaign_id, {locked: -1, state: 1})
        return True


def add_previewer(*, account: OfficialAccount, name: str, openid: str) -> Previewer:
    previewer, _created = Previewer.objects.get_or_create(
        account=account, openid=openid[:64], defaults={"name": name[:50]}
    )
    return previewer


def remove_previewer(*, account: OfficialAccount, previewer_id: int) -> None:
    Previewer.objects.filter(account=account, pk=previewer_id).delete()
