"""Per-campaign counts of deliveries by state (`DeliveryTally`), moved in the same transaction as the rows.

Every write that changes a delivery's state says how many moved from which state to which (`move`), so
the counts stay exact without ever counting 300,000 rows; `recount` rebuilds them from the rows (after
data was written another way, and to check the counts in tests).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from wxnotify.campaigns.models import Delivery, DeliveryTally


def add(campaign_id: int, deltas: Mapping[str, int]) -> None:
    """Add `deltas` (state → change) to the campaign's counts: one statement, an upsert. The rows are
    locked in the order of their states, the same in every transaction: two engines' writes cannot deadlock."""
    changes = sorted((state, n) for state, n in deltas.items() if n)
    if not changes:
        return
    table = DeliveryTally._meta.db_table
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(changes))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[Any] = []
    for state, n in changes:
        params += [campaign_id, state, n, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, state, n, changed_at) VALUES {rows} "  # noqa: S608 - our own table
            f"ON CONFLICT (campaign_id, state) DO UPDATE SET n = {table}.n + excluded.n, "
            "changed_at = excluded.changed_at",
            params,
        )


def move(campaign_id: int, to_state: str, moved_from: Iterable[str]) -> None:
    """Rows moved to `to_state`, one per entry of `moved_from` (the state each came from)."""
    deltas: Counter[str] = Counter()
    for state in moved_from:
        if state != to_state:
            deltas[state] -= 1
            deltas[to_state] += 1
    add(campaign_id, deltas)


def counts(campaign_id: int) -> dict[str, int]:
    return dict(DeliveryTally.objects.filter(campaign_id=campaign_id).values_list("state", "n"))


def recount(campaign_id: int) -> dict[str, int]:
    """Rebuild the counts from the rows themselves; returns them."""
    actual = dict(
        Delivery.objects.filter(campaign_id=campaign_id)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    DeliveryTally.objects.filter(campaign_id=campaign_id).delete()
    DeliveryTally.objects.bulk_create([DeliveryTally(campaign_id=campaign_id, state=s, n=n) for s, n in actual.items()])
    return actual
