"""Reads about campaigns: who a send is meant for and who can receive it now, its progress (from the
counts kept in step with the deliveries), failures by what to do about them, previewers, the lists."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Max, QuerySet

from wechat import quotas
from wechat.errors import DAILY_QUOTA, WeChatError
from wechat.messages import TextMessage
from wechat.xmlcodec import parse_message
from wxnotify.callbacks.models import InboundMessage
from wxnotify.campaigns import tally
from wxnotify.campaigns.models import Action, Campaign, Delivery, DeliveryTally, Previewer
from wxnotify.campaigns.sending.rules import QUIET_REASON
from wxnotify.followers.models import Follower
from wxnotify.subscriptions.models import Subscription, SubscriptionEvent
from wxnotify.subscriptions.validation import FieldError, validate_message

# Deliveries that reached, or may have reached, their recipient: a follow-up leaves them out, a correction
# goes to them ("unknown" ones included: better a correction too many than a wrong notice uncorrected).
MAY_HAVE_REACHED = (Delivery.State.SENT, Delivery.State.UNKNOWN)
NOT_FINISHED = (Delivery.State.PENDING, Delivery.State.CLAIMED, Delivery.State.SENDING)


def content_errors(campaign: Campaign) -> list[FieldError]:
    return validate_message(campaign.template, campaign.data, campaign.title)


def send_family(campaign: Campaign) -> list[int]:
    """A send and its follow-ups ("those not yet sent", at any depth): what they reached, they reached
    together. Starts from the original send whichever member is given."""
    root = campaign
    while root.audience == Campaign.Audience.NOT_YET_SENT and root.source_campaign is not None:
        root = root.source_campaign
    family, frontier = [root.pk], [root.pk]
    while frontier:
        frontier = list(
            Campaign.objects.filter(source_campaign__in=frontier, audience=Campaign.Audience.NOT_YET_SENT)
            .exclude(pk__in=family)
            .values_list("pk", flat=True)
        )
        family += frontier
    return family


def target(campaign: Campaign) -> QuerySet[Subscription]:
    """The ledger rows of the people a send is meant for, whether or not they can receive it now."""
    rows = Subscription.objects.filter(template=campaign.template)
    if campaign.audience == Campaign.Audience.ACTIVITY:
        accepted = SubscriptionEvent.objects.filter(
            activity=campaign.activity, template=campaign.template, kind=SubscriptionEvent.Kind.ACCEPT
        ).values("openid")
        rows = rows.filter(openid__in=accepted)
    elif campaign.audience == Campaign.Audience.PREVIEWERS:
        rows = rows.filter(openid__in=Previewer.objects.filter(account=campaign.account).values("openid"))
    elif campaign.audience in (Campaign.Audience.REACHED_BY, Campaign.Audience.NOT_YET_SENT):
        if campaign.source_campaign is None:
            return rows.none()
        family = [pk for pk in send_family(campaign.source_campaign) if pk != campaign.pk]
        deliveries = Delivery.objects.filter(campaign__in=family)
        if campaign.audience == Campaign.Audience.REACHED_BY:
            rows = rows.filter(openid__in=deliveries.filter(state__in=MAY_HAVE_REACHED).values("openid"))
        else:
            done = deliveries.filter(state__in=MAY_HAVE_REACHED + NOT_FINISHED).values("openid")
            rows = rows.exclude(openid__in=done)
    return rows


def unfollowed_openids(campaign: Campaign) -> QuerySet[Follower, str]:
    return Follower.objects.filter(account=campaign.account, is_following=False).values_list("openid", flat=True)


def audience(campaign: Campaign) -> QuerySet[Subscription, str]:
    """The openids a send goes to, fixed when sending starts (people who subscribe later: a follow-up):
    the target who hold a credit (or a long-term subscription) now and, unless asked, still follow."""
    rows = target(campaign).filter(Subscription.current_q())
    if campaign.skips_unfollowed:
        rows = rows.exclude(openid__in=unfollowed_openids(campaign))
    # No DISTINCT: the ledger has one row per (template, openid). In openid order, the 300,000 new delivery
    # rows go into their (campaign, openid) index one after the other instead of all over it.
    return rows.order_by("openid").values_list("openid", flat=True)


def preflight(campaign: Campaign) -> dict[str, Any]:
    """How many will get it, how many are left out and why, how long it takes, today's quota."""
    rows = target(campaign)
    total = rows.count()
    with_credit = rows.filter(Subscription.current_q()).count()
    eligible = audience(campaign).count()
    configured = campaign.account.send_rate or settings.WXNOTIFY_SEND_RATE
    reached = reached_rate(campaign.account)
    rate = min(configured, reached) if reached else configured
    return {
        "target": total,
        "eligible": eligible,
        "no_credit": total - with_credit,
        "unfollowed": with_credit - eligible,
        "rate": rate,
        "configured_rate": configured,
        "reached_rate": reached,  # what this installation actually sent at lately, when known
        "estimated_seconds": round(eligible / rate, 1) if rate else None,
        "errors": content_errors(campaign),
    }


def reached_rate(account: Any, *, sends: int = 3, at_least: int = 100) -> float | None:
    """Sends per second this installation reached over its last few completed sends (each of at least
    `at_least` people, over the time it was sending); None before there are any."""
    rates = []
    recent = (
        Campaign.objects.filter(account=account, state=Campaign.State.COMPLETED)
        .exclude(audience=Campaign.Audience.PREVIEWERS)
        .order_by("-finished_at")[: sends * 3]
    )
    for campaign in recent:
        sent = tally.counts(campaign.pk).get(Delivery.State.SENT, 0)
        seconds = sending_seconds(campaign, campaign.finished_at)
        if sent >= at_least and seconds > 0:
            rates.append(sent / seconds)
        if len(rates) == sends:
            break
    return round(sum(rates) / len(rates), 1) if rates else None


def needs_reapproval(campaign: Campaign) -> bool:
    """Content changed since it was approved, on an account where a second person must approve it."""
    return bool(
        campaign.account.require_second_approver
        and campaign.approved_snapshot
        and campaign.approved_snapshot != campaign.snapshot()
    )


def stopped_by_yesterdays_quota(*, now: Any) -> list[Campaign]:
    """Sends paused by WeChat's daily quota (45009) on a day that is over: WeChat's days run on Beijing time,
    whatever WXNOTIFY_TIME_ZONE the console shows."""
    midnight = quotas.day_start(now)
    due = []
    for campaign in Campaign.objects.filter(state=Campaign.State.PAUSED, stop_errcode=DAILY_QUOTA):
        stopped = campaign.audit.filter(action=Action.AUTO_PAUSED).order_by("-at").values_list("at", flat=True).first()
        if stopped is not None and stopped < midnight:
            due.append(campaign)
    return due


def paused_by_quiet_hours(*, now: Any) -> list[Campaign]:
    """Sends the engine paused for the account's quiet hours, which are now over."""
    paused = Campaign.objects.filter(state=Campaign.State.PAUSED, stop_reason=QUIET_REASON).select_related("account")
    return [c for c in paused if not c.account.in_quiet_hours(now)]


def scheduled_before_their_activity() -> QuerySet[Campaign]:
    """Scheduled sends timed "N minutes before the activity" (their time follows the activity's)."""
    return Campaign.objects.filter(
        state=Campaign.State.SCHEDULED, minutes_before_start__isnull=False, activity__isnull=False
    ).select_related("activity")


def due_to_start(*, now: Any) -> QuerySet[Campaign]:
    return Campaign.objects.filter(state=Campaign.State.SCHEDULED, scheduled_at__lte=now)


def progress(campaign: Campaign) -> dict[str, int]:
    """Deliveries by state, from the counts kept in step with them (a row, not a count over the deliveries)."""
    counts = tally.counts(campaign.pk)
    return {state: counts.get(state, 0) for state in Delivery.State.values} | {"total": sum(counts.values())}


def stalled_rows(campaign: Campaign) -> dict[str, Any]:
    """What a send nobody works on still holds, for the log and the audit entry of its revival: its unfinished
    rows by state, the workers last named on them, when a row last finished (how long it has stood still) and
    when workers were last asked to work on it."""
    unfinished = Delivery.objects.filter(campaign=campaign, state__in=NOT_FINISHED)
    by_state = dict(unfinished.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    workers = sorted(set(unfinished.exclude(worker="").values_list("worker", flat=True).distinct()[:5]))
    last = Delivery.objects.filter(campaign=campaign).aggregate(at=Max("finished_at"))["at"]
    woken = campaign.woken_at
    return {
        "by_state": by_state,
        "workers": workers,
        "last_progress": last.isoformat() if last else None,
        "woken_at": woken.isoformat() if woken else None,
    }


def live(campaign: Campaign, progress: dict[str, int], now: Any) -> dict[str, float | int | None]:
    """How far a send is and how fast it goes (the console's progress bar and the API's status)."""
    done = progress["sent"] + progress["failed"] + progress["skipped"] + progress["unknown"] + progress["cancelled"]
    remaining = progress["pending"] + progress["claimed"] + progress["sending"]
    elapsed = sending_seconds(campaign, now) if campaign.started_at else 0
    rate = progress["sent"] / elapsed if elapsed > 1 else None
    return {
        "percent": round(100 * done / progress["total"]) if progress["total"] else 0,
        "remaining": remaining,
        "rate": round(rate, 1) if rate else None,
        "eta_seconds": round(remaining / rate) if rate and remaining else None,
    }


def failed_by_class(campaign: Campaign) -> dict[str, int]:
    """Failures sorted the way an operator acts on them: the person cannot receive it (recipient), it may
    work later (transient: "retry"), or something else (content, authorisation, network without a code)."""
    from wechat.errors import classify

    by_class: dict[str, int] = {}
    failed = Delivery.objects.filter(campaign=campaign, state=Delivery.State.FAILED)
    for errcode, n in failed.values_list("errcode").annotate(n=Count("id")).values_list("errcode", "n"):
        kind = classify(errcode) if errcode is not None else "transient"  # no code: the network failed
        by_class[kind] = by_class.get(kind, 0) + n
    return by_class


def listed(account: Any) -> QuerySet[Campaign]:
    """The notifications an operator works with: not the previews (they belong to their notification's page)
    nor the drafts that were deleted."""
    return (
        Campaign.objects.filter(account=account)
        .exclude(audience=Campaign.Audience.PREVIEWERS)
        .exclude(state=Campaign.State.CANCELLED, started_at__isnull=True, scheduled_at__isnull=True)
        .select_related("template")
    )


# What moves a send into sending, and out of it (the audit log has each with its time).
STARTS = {Action.SEND, Action.RESUME, Action.AUTO_RESUMED, Action.RETRY_UNKNOWN, Action.RETRY_FAILED_TRANSIENT}
STOPS = {Action.PAUSE, Action.AUTO_PAUSED, Action.AUTO_HALTED, Action.COMPLETED, Action.CANCEL}


def sending_seconds(campaign: Campaign, now: Any) -> float:
    """How long the send has actually been sending: its running spans from the audit log, not the time since
    it started (a finished send's speed would keep falling; a paused one's too)."""
    total, since = 0.0, None
    for action, at in campaign.audit.filter(action__in=STARTS | STOPS).order_by("at", "id").values_list("action", "at"):
        if action in STARTS and since is None:
            since = at
        elif action in STOPS and since is not None:
            total += (at - since).total_seconds()
            since = None
    if since is not None and campaign.state == Campaign.State.SENDING:
        total += (now - since).total_seconds()
    return total


def recent_senders(account: Any, *, limit: int = 10) -> list[tuple[str, str, Any]]:
    """The people who last wrote to the account (openid, what they wrote, when), newest first, leaving out
    those already previewers: staff become previewers by writing to the account and being picked here."""
    known = set(Previewer.objects.filter(account=account).values_list("openid", flat=True))
    seen: list[tuple[str, str, Any]] = []
    rows = InboundMessage.objects.filter(account=account, msg_type="text").only("openid", "body", "created_at")
    for row in rows.order_by("-id")[:200]:
        if row.openid in known or any(row.openid == openid for openid, _text, _at in seen):
            continue
        try:
            message = parse_message(row.body.encode())
        except (WeChatError, ValueError):
            continue
        text = message.content if isinstance(message, TextMessage) else ""
        seen.append((row.openid, text[:40], row.created_at))
        if len(seen) == limit:
            break
    return seen


def previewer_status(campaign: Campaign) -> list[tuple[Previewer, Subscription | None]]:
    """Each previewer, and whether they can receive this template now (a one-time preview uses their credit)."""
    rows = {s.openid: s for s in Subscription.objects.filter(template=campaign.template)}
    return [(p, rows.get(p.openid)) for p in Previewer.objects.filter(account=campaign.account)]


def with_counts(campaigns: list[Campaign]) -> list[Campaign]:
    """Delivery counts per state for one page of campaigns, read from their counts (a few rows each, not the
    deliveries: a list stays as fast after years of sends and 300,000-recipient ones)."""
    counts: dict[int, dict[str, int]] = {c.pk: {} for c in campaigns}
    for campaign_id, state, n in DeliveryTally.objects.filter(campaign_id__in=list(counts)).values_list(
        "campaign_id", "state", "n"
    ):
        counts[campaign_id][state] = n
    widest = max((sum(c.values()) for c in counts.values()), default=0) or 1
    for campaign in campaigns:
        by_state = counts[campaign.pk]
        campaign.counts = {state: by_state.get(state, 0) for state in Delivery.State.values}  # type: ignore[attr-defined]
        campaign.total = sum(by_state.values())  # type: ignore[attr-defined]
        campaign.sent = by_state.get(Delivery.State.SENT, 0)  # type: ignore[attr-defined]
        # Bar widths (percent of the widest send on the page) for the side-by-side chart.
        campaign.bars = [  # type: ignore[attr-defined]
            (state, round(100 * by_state.get(state, 0) / widest, 2))
            for state in (Delivery.State.SENT, Delivery.State.FAILED, Delivery.State.SKIPPED, Delivery.State.UNKNOWN)
        ]
    return campaigns


def deliveries(
    campaign: Campaign, *, state: str = "", errcode: int | None = None, openid: str = ""
) -> QuerySet[Delivery]:
    """The per-recipient log of a send, filtered as the log page and its CSV export ask."""
    rows = Delivery.objects.filter(campaign=campaign)
    if state in Delivery.State.values:
        rows = rows.filter(state=state)
    if errcode is not None:
        rows = rows.filter(errcode=errcode)
    if openid:
        rows = rows.filter(openid=openid)
    return rows


def error_codes(campaign: Campaign) -> QuerySet[Any, Any]:
    """WeChat's error codes in a send, most frequent first (the log's filter)."""
    return (
        Delivery.objects.filter(campaign=campaign)
        .exclude(errcode__isnull=True)
        .exclude(errcode=0)
        .values("errcode")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
