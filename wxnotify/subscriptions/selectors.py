"""Reads of the subscription ledger that more than one page (console, API) asks."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from wxnotify.subscriptions.models import Activity, Subscription, SubscriptionEvent


def subscribers_of(activity: Activity) -> QuerySet[Subscription]:
    """The ledger rows of the people who subscribed to one of the activity's templates from this activity
    (an accept credited to it), whether or not they can receive a notification now."""
    accepted_here = SubscriptionEvent.objects.filter(
        activity=activity,
        kind=SubscriptionEvent.Kind.ACCEPT,
        template=OuterRef("template"),
        openid=OuterRef("openid"),
    )
    return Subscription.objects.filter(template__in=activity.templates.all()).filter(Exists(accepted_here))
