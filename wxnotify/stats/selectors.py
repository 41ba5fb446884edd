"""Reads for the statistics pages: sums over the daily rollups, never over the raw events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from wxnotify.accounts.models import OfficialAccount
from wxnotify.campaigns.models import Campaign, Click, DeliveryTally
from wxnotify.campaigns.reasons import explain
from wxnotify.engagement.models import MenuVersionItem
from wxnotify.followers.models import Follower
from wxnotify.stats.models import (
    ClickDaily,
    DeliveryDaily,
    FollowDaily,
    MenuDaily,
    MenuMonthly,
    SubscriptionDaily,
)
from wxnotify.subscriptions.models import Template

MAX_MONTHS = 60


@dataclass(frozen=True)
class MonthRange:
    first: date  # the 1st of the first month
    last: date  # the 1st of the last month

    @property
    def months(self) -> list[date]:
        out, month = [], self.first
        while month <= self.last:
            out.append(month)
            month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        return out

    @property
    def end(self) -> date:
        """The day after the last month."""
        return date(self.last.year + (self.last.month == 12), self.last.month % 12 + 1, 1)


def local(moment: datetime) -> datetime:
    """A stored time in the console's time zone."""
    return timezone.localtime(moment)


def _month(text: str) -> date | None:
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1) if 2000 <= year <= 2100 and 1 <= month <= 12 else None
    except ValueError:
        return None


def month_range(first: str = "", last: str = "", *, default_months: int = 13) -> MonthRange:
    """The months a page shows: `first`..`last` as YYYY-MM, or the last `default_months` up to this one.
    Anything unreadable falls back to the default; a reversed range is put right; at most 60 months."""
    today = timezone.localdate()
    this_month = date(today.year, today.month, 1)
    end = _month(last) or this_month
    start = _month(first)
    if start is None:
        index = end.year * 12 + end.month - 1 - (default_months - 1)
        start = date(index // 12, index % 12 + 1, 1)
    if start > end:
        start, end = end, start
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        index = end.year * 12 + end.month - 1 - (MAX_MONTHS - 1)
        start = date(index // 12, index % 12 + 1, 1)
    return MonthRange(start, end)


@dataclass(frozen=True)
class TemplateSeries:
    template: Template
    reused: bool  # offered by more than one activity: the templates the hospital reuses across articles
    accepts: list[int]
    first_time: list[int]

    @property
    def total(self) -> int:
        return sum(self.accepts)


def subscriptions_by_month(account: OfficialAccount, months: MonthRange) -> list[TemplateSeries]:
    """New subscriptions (accepts, and first-time subscribers) per month per template, most subscribed first."""
    rows = (
        SubscriptionDaily.objects.filter(account=account, day__gte=months.first, day__lt=months.end)
        .annotate(month=TruncMonth("day"))
        .values("template_id", "month")
        .annotate(accepts=Sum("accepts"), first_time=Sum("first_time"))
        .order_by()
    )
    index = {month: i for i, month in enumerate(months.months)}
    sums: dict[int, tuple[list[int], list[int]]] = {}
    for row in rows:
        accepts, first = sums.setdefault(row["template_id"], ([0] * len(index), [0] * len(index)))
        month = row["month"]
        month = date(month.year, month.month, 1)
        accepts[index[month]] += row["accepts"]
        first[index[month]] += row["first_time"]
    offered_by = dict(Template.objects.filter(pk__in=sums).annotate(n=Count("activities")).values_list("pk", "n"))
    series = [
        TemplateSeries(t, offered_by[t.pk] > 1, sums[t.pk][0], sums[t.pk][1])
        for t in Template.objects.filter(pk__in=sums)
    ]
    return sorted(series, key=lambda s: (-s.total, s.template.title))


def shift(months: MonthRange, by: int) -> MonthRange:
    """The same number of months, `by` months later (negative: earlier)."""

    def move(month: date) -> date:
        index = month.year * 12 + month.month - 1 + by
        return date(index // 12, index % 12 + 1, 1)

    return MonthRange(move(months.first), move(months.last))


def change_pct(current: int, before: int) -> float | None:
    """The change against an earlier period in percent; None ("—") when there was nothing to compare with."""
    return None if before == 0 else round((current - before) * 100 / before, 1)


@dataclass(frozen=True)
class MenuItemUse:
    item_id: int | None  # None: taps we could not place on an item of a known menu
    name: str
    former_names: list[str]
    taps: int
    people: int  # different people per month, added up over the months
    share: float  # of all taps in the period, percent
    last_month: int  # taps in the range's last month
    mom: float | None  # the last month against the month before it
    yoy: float | None  # the last month against the same month a year earlier


def _item_taps(account: OfficialAccount, months: MonthRange) -> dict[int | None, int]:
    rows = (
        MenuDaily.objects.filter(account=account, day__gte=months.first, day__lt=months.end)
        .values("item_id")
        .annotate(taps=Sum("taps"))
        .order_by()
    )
    return {row["item_id"]: row["taps"] for row in rows}


def item_names(item_ids: list[int]) -> dict[int, list[str]]:
    """Each item's names, newest version first (an item keeps its identity across renames and moves)."""
    names: dict[int, list[str]] = {}
    rows = MenuVersionItem.objects.filter(item_id__in=item_ids).order_by("item_id", "-version__number")
    for item_id, name in rows.values_list("item_id", "name"):
        if name not in names.setdefault(item_id, []):
            names[item_id].append(name)
    return names


def menu_use(account: OfficialAccount, months: MonthRange) -> list[MenuItemUse]:
    """Taps and people per menu item in `months` and their share; for the range's last month, its taps
    against the month before (month-on-month) and the same month a year earlier (year-on-year)."""
    current = _item_taps(account, months)
    last = MonthRange(months.last, months.last)
    this_month = _item_taps(account, last)
    before = _item_taps(account, shift(last, -1))
    year_before = _item_taps(account, shift(last, -12))
    people: dict[int | None, int] = {}
    rows = (
        MenuMonthly.objects.filter(account=account, month__gte=months.first, month__lte=months.last)
        .values("item_id")
        .annotate(people=Sum("people"))
        .order_by()
    )
    for row in rows:
        people[row["item_id"]] = row["people"]
    total = sum(current.values())
    names = item_names([i for i in current if i is not None])
    out = []
    for item_id, taps in current.items():
        item_names_ = names.get(item_id, []) if item_id is not None else []
        out.append(
            MenuItemUse(
                item_id=item_id,
                name=item_names_[0] if item_names_ else _("（未能对应到菜单项）"),
                former_names=item_names_[1:],
                taps=taps,
                people=people.get(item_id, 0),
                share=round(taps * 100 / total, 1) if total else 0.0,
                last_month=this_month.get(item_id, 0),
                mom=change_pct(this_month.get(item_id, 0), before.get(item_id, 0)),
                yoy=change_pct(this_month.get(item_id, 0), year_before.get(item_id, 0)),
            )
        )
    return sorted(out, key=lambda use: (-use.taps, use.name))


GRANULARITIES = ("day", "week", "month")


def menu_trend(
    account: OfficialAccount, months: MonthRange, granularity: str
) -> tuple[list[str], dict[int | None, list[int]]]:
    """Taps per item per day, week (starting Monday) or month: the labels and a series per item."""
    taps = MenuDaily.objects.filter(account=account, day__gte=months.first, day__lt=months.end)
    return _bucketed(taps, months, granularity, "item_id", "taps")


def _bucketed(
    rows: QuerySet[Any], months: MonthRange, granularity: str, key: str, value: str
) -> tuple[list[str], dict[Any, list[int]]]:
    """Daily rollup rows summed per `key` per day, week (starting Monday) or month: labels and a series per
    key, zeros where nothing happened."""
    trunc = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}[granularity]
    sums = rows.annotate(bucket=trunc("day")).values(key, "bucket").annotate(total=Sum(value)).order_by()
    buckets = _buckets(months, granularity)
    index = {bucket: i for i, bucket in enumerate(buckets)}
    series: dict[Any, list[int]] = {}
    for row in sums:
        bucket = row["bucket"]
        bucket = bucket.date() if isinstance(bucket, datetime) else bucket
        series.setdefault(row[key], [0] * len(buckets))[index[bucket]] += row["total"]
    return [bucket_label(b, granularity) for b in buckets], series


def _buckets(months: MonthRange, granularity: str) -> list[date]:
    buckets: list[date] = []
    day = months.first
    while day < months.end:
        bucket = {"day": day, "week": day - timedelta(days=day.weekday()), "month": day.replace(day=1)}[granularity]
        if not buckets or buckets[-1] != bucket:
            buckets.append(bucket)
        day += timedelta(days=1)
    return buckets


def bucket_label(bucket: date, granularity: str) -> str:
    return f"{bucket:%Y-%m}" if granularity == "month" else f"{bucket:%Y-%m-%d}"


@dataclass(frozen=True)
class FollowerGrowth:
    labels: list[str]
    follows: list[int]
    unfollows: list[int]
    net: list[int]
    total: list[int]  # followers at the end of each period
    scenes: list[tuple[str, int, float]]  # QR scene (blank: not from a QR code), follows, share of follows


def follower_growth(account: OfficialAccount, months: MonthRange, granularity: str) -> FollowerGrowth:
    """Follows, unfollows, net and total per period, and follows by QR scene. The total at the end of a
    period is today's count of followers less the net change recorded since."""
    trunc = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}[granularity]
    rows = (
        FollowDaily.objects.filter(account=account, day__gte=months.first, day__lt=months.end)
        .annotate(bucket=trunc("day"))
        .values("bucket")
        .annotate(follows=Sum("follows"), unfollows=Sum("unfollows"))
        .order_by()
    )
    buckets = _buckets(months, granularity)
    index = {bucket: i for i, bucket in enumerate(buckets)}
    follows, unfollows = [0] * len(buckets), [0] * len(buckets)
    for row in rows:
        bucket = row["bucket"]
        i = index[bucket.date() if isinstance(bucket, datetime) else bucket]
        follows[i] += row["follows"]
        unfollows[i] += row["unfollows"]
    net = [f - u for f, u in zip(follows, unfollows, strict=True)]
    later = FollowDaily.objects.filter(account=account, day__gte=months.end).aggregate(
        follows=Sum("follows"), unfollows=Sum("unfollows")
    )
    total_now = Follower.objects.filter(account=account, is_following=True).count()
    running = total_now - (later["follows"] or 0) + (later["unfollows"] or 0)
    total = [0] * len(buckets)
    for i in reversed(range(len(buckets))):
        total[i] = running
        running -= net[i]
    by_scene = (
        FollowDaily.objects.filter(account=account, day__gte=months.first, day__lt=months.end, follows__gt=0)
        .values("scene")
        .annotate(follows=Sum("follows"))
        .order_by("-follows", "scene")
    )
    all_follows = sum(follows)
    scenes = [
        (row["scene"], row["follows"], round(row["follows"] * 100 / all_follows, 1) if all_follows else 0.0)
        for row in by_scene
    ]
    labels = [bucket_label(b, granularity) for b in buckets]
    return FollowerGrowth(labels, follows, unfollows, net, total, scenes)


SPARK_WEEKS = 12


def recent_subscriptions(account: OfficialAccount, *, weeks: int = SPARK_WEEKS) -> dict[int, list[int]]:
    """Accepts per template in each of the last `weeks` weeks (Monday to Sunday, this week last)."""
    today = timezone.localdate()
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    rows = (
        SubscriptionDaily.objects.filter(account=account, day__gte=first)
        .values("template_id", "day")
        .annotate(accepts=Sum("accepts"))
        .order_by()
    )
    series: dict[int, list[int]] = {}
    for row in rows:
        week = (row["day"] - first).days // 7
        series.setdefault(row["template_id"], [0] * weeks)[week] += row["accepts"]
    return series


@dataclass(frozen=True)
class SendFunnel:
    """One send from its audience to the people who tapped, every person accounted for."""

    campaign: Campaign
    target: int  # the audience materialised when it started
    sent: int  # WeChat accepted the request
    delivered: int  # WeChat's delivery report confirmed it
    tapped: int  # different recipients who tapped the link
    taps: int
    failed: int
    skipped: int
    unknown: int
    trackable: bool  # a web page (a mini-program cannot be tracked)

    @property
    def tap_rate(self) -> float | None:
        """Of those it reached (delivered if WeChat reported, else sent), the share who tapped."""
        reached = self.delivered or self.sent
        return round(self.tapped * 100 / reached, 1) if reached and self.trackable else None


def sends(
    account: OfficialAccount, template_id: int | None = None, months: MonthRange | None = None
) -> QuerySet[Campaign]:
    """Sends that went out (previews are staff checks, not patients), newest first; of one template, started
    within `months`, when given."""
    started = Campaign.objects.filter(account=account, started_at__isnull=False).exclude(
        audience=Campaign.Audience.PREVIEWERS
    )
    if template_id is not None:
        started = started.filter(template_id=template_id)
    if months is not None:
        tz = timezone.get_default_timezone()
        first, end = (datetime.combine(d, datetime.min.time(), tzinfo=tz) for d in (months.first, months.end))
        started = started.filter(started_at__gte=first, started_at__lt=end)
    return started.select_related("template").order_by("-started_at", "-id")


def funnels(campaigns: list[Campaign]) -> list[SendFunnel]:
    ids = [c.pk for c in campaigns]
    tallies: dict[int, dict[str, int]] = {}
    for campaign_id, state, n in DeliveryTally.objects.filter(campaign_id__in=ids).values_list(
        "campaign_id", "state", "n"
    ):
        tallies.setdefault(campaign_id, {})[state] = n
    delivered = dict(
        DeliveryDaily.objects.filter(campaign_id__in=ids, outcome=DeliveryDaily.Outcome.DELIVERED)
        .values("campaign_id")
        .annotate(n=Sum("n"))
        .values_list("campaign_id", "n")
    )
    clicked = {
        row["campaign_id"]: (row["people"], row["taps"])
        for row in Click.objects.filter(campaign_id__in=ids)
        .values("campaign_id")
        .annotate(people=Count("delivery_id", distinct=True), taps=Count("id"))
    }
    out = []
    for c in campaigns:
        counts = tallies.get(c.pk, {})
        snapshot = c.approved_snapshot or c.snapshot()
        people, taps = clicked.get(c.pk, (0, 0))
        out.append(
            SendFunnel(
                campaign=c,
                target=sum(counts.values()),
                sent=counts.get("sent", 0),
                delivered=delivered.get(c.pk, 0),
                tapped=people,
                taps=taps,
                failed=counts.get("failed", 0),
                skipped=counts.get("skipped", 0),
                unknown=counts.get("unknown", 0),
                trackable=bool(snapshot.get("page")),
            )
        )
    return out


def failure_reasons(campaign: Campaign) -> list[tuple[int | None, str, str, int]]:
    """Why people did not get it: (errcode, reason, what to do, how many), most frequent first."""
    return failure_reasons_of([campaign])


def subscriptions_by_activity(account: OfficialAccount, months: MonthRange) -> list[tuple[str, str, int, int]]:
    """Accepts and first-time subscribers per (template, activity that brought them), most first."""
    rows = (
        SubscriptionDaily.objects.filter(account=account, day__gte=months.first, day__lt=months.end)
        .values("template__title", "activity__title")
        .annotate(accepts=Sum("accepts"), first_time=Sum("first_time"))
        .filter(accepts__gt=0)
        .order_by("-accepts", "template__title")
    )
    return [
        (r["template__title"], r["activity__title"] or _("（未归属到活动）"), r["accepts"], r["first_time"])
        for r in rows
    ]


def sends_in(account: OfficialAccount, months: MonthRange) -> list[Campaign]:
    """The sends that started in `months` (the console's time zone), oldest first."""
    return list(sends(account, months=months).order_by("started_at", "id"))


def failure_reasons_of(campaigns: list[Campaign]) -> list[tuple[int | None, str, str, int]]:
    """Why people did not get these sends, added up over them (the daily rollup)."""
    rows = (
        DeliveryDaily.objects.filter(campaign__in=campaigns, outcome__in=NOT_RECEIVED)
        .values("outcome", "errcode", "reason")
        .annotate(total=Sum("n"))
        .order_by("-total", "outcome", "errcode")
    )
    return [(row["errcode"], *explain(row["errcode"], row["outcome"], row["reason"]), row["total"]) for row in rows]


NOT_RECEIVED = [DeliveryDaily.Outcome.FAILED, DeliveryDaily.Outcome.SKIPPED, DeliveryDaily.Outcome.UNKNOWN]
# The outcomes a chart of sends shows, in the order of its legend.
OUTCOMES = [
    DeliveryDaily.Outcome.SENT,
    DeliveryDaily.Outcome.DELIVERED,
    DeliveryDaily.Outcome.FAILED,
    DeliveryDaily.Outcome.SKIPPED,
    DeliveryDaily.Outcome.UNKNOWN,
    DeliveryDaily.Outcome.CANCELLED,
]


def send_outcomes(
    account: OfficialAccount, months: MonthRange, granularity: str, template_id: int | None = None
) -> tuple[list[str], dict[str, list[int]]]:
    """What became of the sends' deliveries per day, week or month (previews left out): a series per
    outcome, each in every period."""
    rows = DeliveryDaily.objects.filter(account=account, day__gte=months.first, day__lt=months.end).exclude(
        campaign__audience=Campaign.Audience.PREVIEWERS
    )
    if template_id is not None:
        rows = rows.filter(campaign__template_id=template_id)
    labels, series = _bucketed(rows, months, granularity, "outcome", "n")
    return labels, {outcome: series.get(outcome, [0] * len(labels)) for outcome in OUTCOMES}


def campaign_days(campaign: Campaign) -> tuple[list[str], dict[str, list[int]]]:
    """One send: sent, delivered, failed and taps on each day from its start to its last event."""
    counts: dict[str, dict[date, int]] = {}
    outcomes = DeliveryDaily.objects.filter(campaign=campaign).values_list("outcome", "day").annotate(n=Sum("n"))
    taps = ClickDaily.objects.filter(campaign=campaign).values_list("day").annotate(n=Sum("taps"))
    for outcome, day, n in outcomes:
        counts.setdefault(outcome, {})[day] = n
    for day, n in taps:
        counts.setdefault("taps", {})[day] = n
    known = [day for by_day in counts.values() for day in by_day]
    if not known:
        return [], {}
    first = min(known + ([timezone.localdate(campaign.started_at)] if campaign.started_at else []))
    days = [first + timedelta(days=i) for i in range((max(known) - first).days + 1)]
    keys = ["sent", "delivered", "failed", "taps"]
    return [f"{d:%m-%d}" for d in days], {key: [counts.get(key, {}).get(d, 0) for d in days] for key in keys}
