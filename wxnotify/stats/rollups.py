"""How each rollup is computed from the raw events: the only definition of every figure.

A day is a calendar day in the console's time zone (Asia/Shanghai by default), so a month on a chart is the
hospital's month. Each function computes every period (day, or month as its 1st) between two moments in one
grouped query and returns the rows unsaved, each with its `period`; `services` replaces the stored periods with
them. One query for a span, not one per day: a rebuild over 400 days of 10 million taps is a handful of scans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from wxnotify.campaigns.models import Click, Delivery
from wxnotify.engagement.models import MenuTap
from wxnotify.followers.models import FollowerChange
from wxnotify.stats.models import ClickDaily, DeliveryDaily, FollowDaily, MenuDaily, MenuMonthly, SubscriptionDaily
from wxnotify.subscriptions.models import SubscriptionEvent

ACCEPT = SubscriptionEvent.Kind.ACCEPT
REJECTS = [SubscriptionEvent.Kind.REJECT, SubscriptionEvent.Kind.SETTINGS_REJECT]
FOLLOWS = [FollowerChange.Kind.FOLLOW]
# Someone a sync no longer finds left without our being told: counted on the day the sync noticed.
UNFOLLOWS = [FollowerChange.Kind.UNFOLLOW, FollowerChange.Kind.SYNC_MISSING]

Rows = list[dict[str, Any]]


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def span(period: str, first: date, last: date) -> tuple[datetime, datetime]:
    """The moments from the start of `first` to the end of `last` (days, or months given by their 1st)."""
    end = last + timedelta(days=1) if period == "day" else next_month(last)
    return start_of(first), start_of(end)


def _grouped(queryset: QuerySet[Any], at: str, period: str, by: list[str], **counts: Any) -> Rows:
    tz = timezone.get_default_timezone()
    trunc = TruncDate(at, tzinfo=tz) if period == "day" else TruncMonth(at, tzinfo=tz)
    rows = queryset.annotate(period=trunc).values("period", *by).annotate(**counts).order_by()
    return [row | {"period": as_date(row["period"])} for row in rows]


def as_date(value: date | datetime) -> date:
    """TruncMonth gives a local datetime on some databases, a date on others."""
    return value.date() if isinstance(value, datetime) else value


def subscriptions(account_id: int, start: datetime, end: datetime) -> Rows:
    # An accept is a first time unless the same person accepted the same template before (ties by id); two
    # probes on the (template, openid, occurred_at) index rather than one OR the planner cannot use.
    def earlier(**when: Any) -> Exists:
        return Exists(
            SubscriptionEvent.objects.filter(
                template_id=OuterRef("template_id"), openid=OuterRef("openid"), kind=ACCEPT, **when
            )
        )

    before = earlier(occurred_at__lt=OuterRef("occurred_at"))
    tied = earlier(occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id"))
    events = SubscriptionEvent.objects.filter(
        account_id=account_id, occurred_at__gte=start, occurred_at__lt=end, kind__in=[ACCEPT, *REJECTS]
    )
    return _grouped(
        events,
        "occurred_at",
        "day",
        ["template_id", "activity_id"],
        accepts=Count("id", filter=Q(kind=ACCEPT)),
        rejections=Count("id", filter=Q(kind__in=REJECTS)),
        first_time=Count("id", filter=Q(kind=ACCEPT) & ~Q(before) & ~Q(tied)),
    )


def _taps(model: Any, account_id: int, start: datetime, end: datetime, period: str, by: list[str], person: str) -> Rows:
    """Taps (rows) and different people (`person`) per period, grouped by `by`."""
    rows = model.objects.filter(account_id=account_id, at__gte=start, at__lt=end)
    return _grouped(rows, "at", period, by, taps=Count("id"), people=Count(person, distinct=True))


def menu_days(account_id: int, start: datetime, end: datetime) -> Rows:
    return _taps(MenuTap, account_id, start, end, "day", ["item_id", "version_id"], "openid")


def menu_months(account_id: int, start: datetime, end: datetime) -> Rows:
    return _taps(MenuTap, account_id, start, end, "month", ["item_id"], "openid")


def clicks(account_id: int, start: datetime, end: datetime) -> Rows:
    # A person is a delivery: the same patient in two sends is two recipients.
    return _taps(Click, account_id, start, end, "day", ["campaign_id"], "delivery_id")


def follows(account_id: int, start: datetime, end: datetime) -> Rows:
    changes = FollowerChange.objects.filter(
        account_id=account_id, occurred_at__gte=start, occurred_at__lt=end, kind__in=FOLLOWS + UNFOLLOWS
    )
    rows = _grouped(
        changes,
        "occurred_at",
        "day",
        ["qr_scene"],
        follows=Count("id", filter=Q(kind__in=FOLLOWS)),
        unfollows=Count("id", filter=Q(kind__in=UNFOLLOWS)),
    )
    return [{"scene": row.pop("qr_scene")} | row for row in rows]


SETTLED = [s for s in DeliveryDaily.Outcome.values if s != DeliveryDaily.Outcome.DELIVERED]


def deliveries(campaign_ids: Iterable[int]) -> list[DeliveryDaily]:
    """Every day of these sends, whole (a delivery changes in place, so a send is recounted, not a day).

    A settled row counts on the day it settled (cancelled ones, which never had an attempt, on the day the
    send stopped); a WeChat delivery report counts as `delivered` on the day WeChat sent it. Failures keep
    WeChat's error code, skips the engine's reason."""
    tz = timezone.get_default_timezone()
    ids = list(campaign_ids)
    when = Coalesce("finished_at", "attempt_started_at", "campaign__finished_at", "campaign__started_at")
    reason = Case(When(state="skipped", then=F("errmsg")), default=Value(""), output_field=CharField())
    settled = (
        Delivery.objects.filter(campaign_id__in=ids, state__in=SETTLED)
        .annotate(when=when)
        .filter(when__isnull=False)
        .annotate(day=TruncDate("when", tzinfo=tz), reason=reason)
        .values_list("campaign__account_id", "campaign_id", "day", "state", "errcode", "reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    delivered = (
        Delivery.objects.filter(campaign_id__in=ids, confirmed_at__isnull=False)
        .annotate(day=TruncDate("confirmed_at", tzinfo=tz))
        .values_list("campaign__account_id", "campaign_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: Counter[tuple[Any, ...]] = Counter()
    for account_id, campaign_id, day, state, errcode, why, n in settled:
        # A sent row's code is 0 from WeChat's answer, empty from its report: the same outcome either way.
        code = None if state == "sent" else errcode
        counts[account_id, campaign_id, day, state, code, (why or "")[:64]] += n
    for account_id, campaign_id, day, n in delivered:
        counts[account_id, campaign_id, day, DeliveryDaily.Outcome.DELIVERED, None, ""] += n
    return [
        DeliveryDaily(account_id=a, campaign_id=c, day=d, outcome=o, errcode=e, reason=r, n=n)
        for (a, c, d, o, e, r), n in counts.items()
    ]


@dataclass(frozen=True)
class Source:
    """A raw table, the timestamp that places its rows in a period (a day, or a month given as its 1st), and
    the rollup computed from it, whose period field is `period`."""

    name: str
    raw: Any  # a model class (its manager is what is used)
    at: str
    rollup: Any
    compute: Callable[[int, datetime, datetime], Rows]
    period: str = "day"  # or "month"

    def rows(self, account_id: int, first: date, last: date) -> list[Any]:
        """The rollup rows of every period from `first` to `last`, unsaved."""
        start, end = span(self.period, first, last)
        return [
            self.rollup(account_id=account_id, **{self.period: row.pop("period")}, **row)
            for row in self.compute(account_id, start, end)
        ]


SOURCES = (
    Source("subscriptions", SubscriptionEvent, "occurred_at", SubscriptionDaily, subscriptions),
    Source("menu", MenuTap, "at", MenuDaily, menu_days),
    Source("menu_month", MenuTap, "at", MenuMonthly, menu_months, period="month"),
    Source("follows", FollowerChange, "occurred_at", FollowDaily, follows),
    Source("clicks", Click, "at", ClickDaily, clicks),
)
