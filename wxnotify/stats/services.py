"""Keeping the rollups up to date: `refresh` (every minute, in the worker) and `rebuild` (one command).

`refresh` reads each raw table past its cursor, finds for each account the span of periods its new rows fall
in, and recomputes that span whole — so an event arriving late (WeChat retries for minutes; a follower sync
brings old follow times) lands on its own day, and a refreshed period equals a rebuilt one. It re-reads the
last `LOOKBACK_IDS` ids before the cursor: a transaction that took a lower id but committed after the previous
run (PostgreSQL hands out ids before commit) is not missed.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from wxnotify.stats.models import RollupCursor
from wxnotify.stats.rollups import SOURCES, Source

LOOKBACK_IDS = 5_000


def _period_of(source: Source, moment: datetime) -> date:
    day = timezone.localtime(moment).date()
    return day if source.period == "day" else day.replace(day=1)


def replace_span(source: Source, account_id: int, first: date, last: date) -> int:
    """Recompute the account's periods from `first` to `last` and put them in place of the stored ones."""
    rows = source.rows(account_id, first, last)
    stored = source.rollup.objects.filter(account_id=account_id)
    stored.filter(**{f"{source.period}__gte": first, f"{source.period}__lte": last}).delete()
    source.rollup.objects.bulk_create(rows, batch_size=2000)
    return len({getattr(row, source.period) for row in rows})


def refresh_source(source: Source) -> int:
    """Recompute the periods (days or months) new rows fall in; how many periods now hold data there."""
    with transaction.atomic():
        # The cursor row is the lock: two refreshes (two workers, a rebuild) never replace the same day at once.
        cursor, _ = RollupCursor.objects.select_for_update().get_or_create(source=source.name)
        new = source.raw.objects.filter(id__gt=max(0, cursor.last_id - LOOKBACK_IDS))
        last = new.aggregate(last=Max("id"))["last"]
        if last is None or last == cursor.last_id:
            return 0  # nothing new (a row committed late is picked up with the next new one)
        spans = (
            new.filter(id__lte=last)
            .values("account_id")
            .annotate(first=Min(source.at), last=Max(source.at))
            .order_by("account_id")
        )
        periods = 0
        for span in spans:
            first, final = _period_of(source, span["first"]), _period_of(source, span["last"])
            periods += replace_span(source, span["account_id"], first, final)
        cursor.last_id = last
        cursor.save()
        return periods


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
