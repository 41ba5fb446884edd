"""Keeping the rollups up to date: `refresh` (every minute, in the worker) and `rebuild` (one command).

`refresh` reads each raw table past its cursor, finds for each account the span of periods its new rows fall
in, and recomputes that span whole — so an event arriving late (WeChat retries for minutes; a follower sync
brings old follow times) lands on its own day, and a refreshed period equals a rebuilt one. It re-reads the
last `LOOKBACK_IDS` ids before the cursor: a transaction that took a lower id but committed after the previous
run (PostgreSQL hands out ids before commit) is not missed.

Deliveries are the exception: a row changes in place as it is sent and reported, so there is no id to
follow. Every write that moves a delivery moves its send's counts (`DeliveryTally`) and stamps when; WeChat's
reports stamp `confirmed_at`. The refresh recounts, whole, each send stamped since its previous run (less a
margin), and nothing else.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from wxnotify.campaigns.models import Campaign, Delivery, DeliveryTally
from wxnotify.stats import rollups
from wxnotify.stats.models import DeliveryDaily, RollupCursor
from wxnotify.stats.rollups import SOURCES, Source

LOOKBACK_IDS = 5_000
# Deliveries are read by time, not id: a write stamped just before the last refresh may have committed after
# it (an engine's write-back), and a delivery report carries WeChat's send time, which lags its arrival.
LOOKBACK_TIME = timedelta(minutes=10)
LOOKBACK_REPORTS = timedelta(hours=1)
REPORTS_WITHIN = timedelta(days=1)  # of a send's end: WeChat's reports come within minutes
DELIVERIES = "deliveries"


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


def replace_campaigns(campaign_ids: set[int]) -> None:
    ids = sorted(campaign_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        DeliveryDaily.objects.filter(campaign_id__in=chunk).delete()
        DeliveryDaily.objects.bulk_create(rollups.deliveries(chunk), batch_size=2000)


def refresh_deliveries() -> int:
    """Recount the sends whose deliveries moved (their counts' `changed_at`) or got WeChat's report since
    the last refresh; how many sends were recounted."""
    with transaction.atomic():
        cursor, _ = RollupCursor.objects.select_for_update().get_or_create(source=DELIVERIES)
        now = timezone.now()
        moved = DeliveryTally.objects.all()
        if cursor.last_at is None:
            changed = set(moved.values_list("campaign_id", flat=True))
        else:
            moved = moved.filter(changed_at__gte=cursor.last_at - LOOKBACK_TIME)
            changed = set(moved.values_list("campaign_id", flat=True)) | _reported_since(
                cursor.last_at - LOOKBACK_REPORTS
            )
        replace_campaigns(changed)
        cursor.last_at = now
        cursor.save()
        return len(changed)


def _reported_since(since: datetime) -> set[int]:
    """Sends that got a WeChat delivery report stamped after `since`. Reports come within minutes of a send:
    only sends still going or finished in the last day are asked, each by one probe of its reports' index
    (a later report is counted by the next rebuild)."""
    recent = Campaign.objects.filter(started_at__isnull=False).filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=since - REPORTS_WITHIN)
    )
    return {
        pk
        for pk in recent.values_list("pk", flat=True)
        if Delivery.objects.filter(campaign_id=pk, confirmed_at__gte=since).exists()
    }


def refresh() -> dict[str, int]:
    return {source.name: refresh_source(source) for source in SOURCES} | {DELIVERIES: refresh_deliveries()}


def rebuild() -> dict[str, int]:
    """Every rollup from the raw data alone: the rows a refresh would have made all along."""
    with transaction.atomic():
        for source in SOURCES:
            cursor, _ = RollupCursor.objects.select_for_update().get_or_create(source=source.name)
            source.rollup.objects.all().delete()
            cursor.last_id = 0
            cursor.save()
        DeliveryDaily.objects.all().delete()
        RollupCursor.objects.filter(source=DELIVERIES).update(last_at=None)
        return refresh()
