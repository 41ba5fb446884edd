"""Reads about inbound pushes that the console pages need."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.models import Refusal, RefusedPushes


def refused_last_hour(account: OfficialAccount) -> list[tuple[str, str, int, int]]:
    """(reason, its label, how many, bar width in % of the largest) over the last 60 whole minutes,
    most frequent first."""
    since = (timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0)
    rows = (
        RefusedPushes.objects.filter(account=account, minute__gte=since)
        .values("reason")
        .annotate(n=Sum("count"))
        .order_by("-n", "reason")
    )
    labels = dict(Refusal.choices)
    counts = [(r["reason"], str(labels.get(r["reason"], r["reason"])), int(r["n"])) for r in rows]
    largest = max((n for _, _, n in counts), default=1)
    return [(reason, label, n, max(1, round(100 * n / largest))) for reason, label, n in counts]
