"""How one day of each rollup is computed from the raw events: the only definition of every figure.

A day is a calendar day in the console's time zone (Asia/Shanghai by default), so a month on a chart is the
hospital's month. Each function returns the day's rows unsaved; `services` replaces the stored ones with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from wxnotify.campaigns.models import Click
from wxnotify.engagement.models import MenuTap
from wxnotify.followers.models import FollowerChange
from wxnotify.stats.models import ClickDaily, FollowDaily, MenuDaily, MenuMonthly, SubscriptionDaily
from wxnotify.subscriptions.models import SubscriptionEvent

ACCEPT = SubscriptionEvent.Kind.ACCEPT
REJECTS = [SubscriptionEvent.Kind.REJECT, SubscriptionEvent.Kind.SETTINGS_REJECT]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    tz = timezone.get_default_timezone()
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return datetime.combine(month, time.min, tzinfo=tz), datetime.combine(following, time.min, tzinfo=tz)


def subscriptions_day(account_id: int, day: date) -> list[SubscriptionDaily]:
    start, end = day_bounds(day)
    # An accept is a first time unless the same person accepted the same template before (ties by id).
    earlier = SubscriptionEvent.objects.filter(
        template_id=OuterRef("template_id"), openid=OuterRef("openid"), kind=ACCEPT
    ).filter(Q(occurred_at__lt=OuterRef("occurred_at")) | Q(occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id")))
    rows = (
        SubscriptionEvent.objects.filter(
            account_id=account_id, occurred_at__gte=start, occurred_at__lt=end, kind__in=[ACCEPT, *REJECTS]
        )
        .values("template_id", "activity_id")
        .annotate(
            accepts=Count("id", filter=Q(kind=ACCEPT)),
            rejections=Count("id", filter=Q(kind__in=REJECTS)),
            first_time=Count("id", filter=Q(kind=ACCEPT) & ~Q(Exists(earlier))),
        )
        .order_by()
    )
    return [SubscriptionDaily(account_id=account_id, day=day, **row) for row in rows]


def _taps(model: Any, account_id: int, bounds: tuple[datetime, datetime], by: list[str], person: str) -> list[dict]:
    """Taps (rows) and different people (`person`) in `bounds`, grouped by `by`."""
    rows = (
        model.objects.filter(account_id=account_id, at__gte=bounds[0], at__lt=bounds[1])
        .values(*by)
        .annotate(taps=Count("id"), people=Count(person, distinct=True))
        .order_by()
    )
    return list(rows)


def menu_day(account_id: int, day: date) -> list[MenuDaily]:
    rows = _taps(MenuTap, account_id, day_bounds(day), ["item_id", "version_id"], "openid")
    return [MenuDaily(account_id=account_id, day=day, **row) for row in rows]


def menu_month(account_id: int, month: date) -> list[MenuMonthly]:
    rows = _taps(MenuTap, account_id, month_bounds(month), ["item_id"], "openid")
    return [MenuMonthly(account_id=account_id, month=month, **row) for row in rows]


def clicks_day(account_id: int, day: date) -> list[ClickDaily]:
    # A person is a delivery: the same patient in two sends is two recipients.
    rows = _taps(Click, account_id, day_bounds(day), ["campaign_id"], "delivery_id")
    return [ClickDaily(account_id=account_id, day=day, **row) for row in rows]


FOLLOWS = [FollowerChange.Kind.FOLLOW]
# Someone a sync no longer finds left without our being told: counted on the day the sync noticed.
UNFOLLOWS = [FollowerChange.Kind.UNFOLLOW, FollowerChange.Kind.SYNC_MISSING]


def follows_day(account_id: int, day: date) -> list[FollowDaily]:
    start, end = day_bounds(day)
    rows = (
        FollowerChange.objects.filter(
            account_id=account_id, occurred_at__gte=start, occurred_at__lt=end, kind__in=FOLLOWS + UNFOLLOWS
        )
        .values("qr_scene")
        .annotate(follows=Count("id", filter=Q(kind__in=FOLLOWS)), unfollows=Count("id", filter=Q(kind__in=UNFOLLOWS)))
        .order_by()
    )
    return [
        FollowDaily(
            account_id=account_id, day=day, scene=row["qr_scene"], follows=row["follows"], unfollows=row["unfollows"]
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Source:
    """A raw table, the timestamp that places its rows in a period (a day, or a month given as its 1st), and
    the rollup computed from it, whose period field is `period`."""

    name: str
    raw: Any  # a model class (its manager is what is used)
    at: str
    rollup: Any
    compute: Callable[[int, date], list[Any]]
    period: str = "day"  # or "month"


SOURCES = (
    Source("subscriptions", SubscriptionEvent, "occurred_at", SubscriptionDaily, subscriptions_day),
    Source("menu", MenuTap, "at", MenuDaily, menu_day),
    Source("menu_month", MenuTap, "at", MenuMonthly, menu_month, period="month"),
    Source("follows", FollowerChange, "occurred_at", FollowDaily, follows_day),
    Source("clicks", Click, "at", ClickDaily, clicks_day),
)
