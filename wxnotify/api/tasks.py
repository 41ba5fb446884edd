"""The API's queued work, thin: posting webhook events, the minute's sweep of due ones, and forgetting old
idempotency keys and call records."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from wxnotify.api import webhooks
from wxnotify.api.models import ApiCall, IdempotentRequest

# A retry with the same Idempotency-Key is answered from the first for a day (as Stripe's are).
KEYS_KEPT = timedelta(hours=24)
CALLS_KEPT = timedelta(days=180)


@db_task()
def deliver_webhook(delivery_id: int) -> str:
    return webhooks.attempt(delivery_id)


@db_periodic_task(crontab(minute="*"))
def deliver_due_webhooks() -> None:
    for pk in webhooks.due():
        webhooks.attempt(pk)


@db_periodic_task(crontab(minute="17", hour="3"))
def forget_old_api_records() -> None:
    now = timezone.now()
    IdempotentRequest.objects.filter(created_at__lt=now - KEYS_KEPT).delete()
    ApiCall.objects.filter(at__lt=now - CALLS_KEPT).delete()
