"""Keeping the rollups up to date: `refresh` (every minute, in the worker) and `rebuild` (one command).

`refresh` reads each raw table past its cursor, finds the (account, day) pairs the new rows fall on, and
recomputes those days whole — so an event arriving late (WeChat retries for minutes; a follower sync brings
old follow times) lands on its own day, and a refreshed day equals a rebuilt one. It re-reads the last
`LOOKBACK_IDS` ids before the cursor: a transaction that took a lower id but committed after the previous run
(PostgreSQL hands out ids before commit) is not missed.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Max
from django.db.models.functions import TruncDate
from django.utils import timezone

from wxnotify.stats.models import RollupCursor
from wxnotify.stats.rollups import SOURCES, Source

LOOKBACK_IDS = 5_000


def replace_day(source: Source, account_id: int, day: date) -> None:
    rows = source.compute(account_id, day)
    source.rollup.objects.filter(account_id=account_id, day=day).delete()
    source.rollup.objects.bulk_create(rows)


def refresh_source(source: Source) -> int:
    """Recompute every day touched since the last run; the number of days recomputed."""
    with transaction.atomic():
        # The cursor row is the lock: two refreshes (two workers, a rebuild) never replace the same day at once.
        cursor, _ = RollupCursor.objects.select_for_update().get_or_create(source=source.name)
        new = source.raw.objects.filter(id__gt=max(0, cursor.last_id - LOOKBACK_IDS))
        last = new.aggregate(last=Max("id"))["last"]
        if last is None or last == cursor.last_id:
            return 0  # nothing new (a row committed late is picked up with the next new one)
        tz = timezone.get_default_timezone()
        days = (
            new.filter(id__lte=last)
            .annotate(day=TruncDate(source.at, tzinfo=tz))
            .values_list("account_id", "day")
            .distinct()
            .order_by()
        )
        touched = sorted(set(days))
        for account_id, day in touched:
            replace_day(source, account_id, day)
        cursor.last_id = last
        cursor.save()
        return len(touched)


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
