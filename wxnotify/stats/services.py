"""Keeping the rollups up to date: `refresh` (every minute, in the worker) and `rebuild` (one command).

`refresh` reads each raw table past its cursor, finds the (account, day) pairs the new rows fall on, and
recomputes those days whole — so an event arriving late (WeChat retries for minutes; a follower sync brings
old follow times) lands on its own day, and a refreshed day equals a rebuilt one. It re-reads the last
`LOOKBACK_IDS` ids before the cursor: a transaction that took a lower id but committed after the previous run
(PostgreSQL hands out ids before commit) is not missed.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.db.models import Max
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from wxnotify.stats.models import RollupCursor
from wxnotify.stats.rollups import SOURCES, Source

LOOKBACK_IDS = 5_000


def replace_period(source: Source, account_id: int, period: date) -> None:
    rows = source.compute(account_id, period)
    source.rollup.objects.filter(account_id=account_id, **{source.period: period}).delete()
    source.rollup.objects.bulk_create(rows)


def refresh_source(source: Source) -> int:
    """Recompute every period (day or month) touched since the last run; how many were recomputed."""
    with transaction.atomic():
        # The cursor row is the lock: two refreshes (two workers, a rebuild) never replace the same day at once.
        cursor, _ = RollupCursor.objects.select_for_update().get_or_create(source=source.name)
        new = source.raw.objects.filter(id__gt=max(0, cursor.last_id - LOOKBACK_IDS))
        last = new.aggregate(last=Max("id"))["last"]
        if last is None or last == cursor.last_id:
            return 0  # nothing new (a row committed late is picked up with the next new one)
        tz = timezone.get_default_timezone()
        trunc = TruncDate(source.at, tzinfo=tz) if source.period == "day" else TruncMonth(source.at, tzinfo=tz)
        periods = (
            new.filter(id__lte=last).annotate(period=trunc).values_list("account_id", "period").distinct().order_by()
        )
        touched = sorted({(account_id, _as_date(period)) for account_id, period in periods})
        for account_id, period in touched:
            replace_period(source, account_id, period)
        cursor.last_id = last
        cursor.save()
        return len(touched)


def _as_date(value: date | datetime) -> date:
    """TruncMonth gives a local datetime on some backends, a date on others."""
    return value.date() if isinstance(value, datetime) else value


def refresh() -> dict[str, int]:
    return {source.name: refresh_source(source) for source in SOURCES}


def rebuild() -> dict[str, int]:
    """Every rollup from the raw data alone: the rows a refresh would have made all along."""
    with transaction.atomic():
        for source in SOURCES:
            cursor, _ = RollupCursor.objects.select_for_update().get_or_create(source=source.name)
            source.rollup.objects.all().delete()
            cursor.last_id = 0
            cursor.save()
        return refresh()
