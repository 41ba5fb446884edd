"""Reads for the statistics pages: sums over the daily rollups, never over the raw events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from wxnotify.accounts.models import OfficialAccount
from wxnotify.stats.models import SubscriptionDaily
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
