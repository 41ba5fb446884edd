"""The home page's reads: what an operator comes to the console for, before the raw event list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count

from wxnotify.accounts.models import OfficialAccount
from wxnotify.campaigns import selectors as campaigns
from wxnotify.campaigns.models import Campaign
from wxnotify.subscriptions.models import SubscriptionEvent


def overview(account: OfficialAccount, *, today: datetime) -> dict[str, Any]:
    """Sends going out now, the next scheduled ones, the latest results, and today's new subscriptions."""
    listed = campaigns.listed(account)
    accepts = SubscriptionEvent.objects.filter(
        account=account, kind=SubscriptionEvent.Kind.ACCEPT, occurred_at__gte=today
    )
    return {
        "sending": campaigns.with_counts(list(listed.filter(state__in=ACTIVE).order_by("started_at")[:5])),
        "scheduled": list(listed.filter(state=Campaign.State.SCHEDULED).order_by("scheduled_at")[:3]),
        "finished": campaigns.with_counts(
            list(listed.filter(state__in=FINISHED, started_at__isnull=False).order_by("-finished_at")[:5])
        ),
        "accepts_today": accepts.count(),
        "accepts_by_template": list(
            accepts.values("template__title").annotate(n=Count("id")).order_by("-n", "template__title")[:5]
        ),
    }


ACTIVE = [Campaign.State.SENDING, Campaign.State.PAUSED, Campaign.State.HALTED]
FINISHED = [Campaign.State.COMPLETED, Campaign.State.CANCELLED]
