"""Outgoing webhooks: when a send finishes, halts, or pauses because WeChat's daily quota ran out, each of
the account's endpoints that asked for that event gets a signed POST.

An event is written (`WebhookDelivery`) in the transaction that moves the campaign, so a crash cannot lose
it; the worker posts it and, until the endpoint answers 2xx, tries again after 30 s, 2 min, 8 min, …
(`WXNOTIFY_WEBHOOK_ATTEMPTS` tries in all). The receiver checks

    X-Wxnotify-Signature: v1=<hex HMAC-SHA256(secret, "<X-Wxnotify-Timestamp>.<body>")>

(and that the timestamp is recent), and de-duplicates by `X-Wxnotify-Delivery` — a retry after a lost
answer repeats the same event id."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from wechat.errors import DAILY_QUOTA
from wxnotify.accounts.models import OfficialAccount
from wxnotify.api.models import Webhook, WebhookDelivery
from wxnotify.campaigns import selectors
from wxnotify.campaigns.models import Action, Campaign

log = logging.getLogger(__name__)
TIMEOUT = 10  # seconds an endpoint has to answer
FIRST_PAUSE = 30  # seconds before the second try; each later pause is four times the one before
USER_AGENT = "wxnotify-webhooks/1"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def event_of(action: str, detail: dict[str, Any]) -> str | None:
    if action == Action.COMPLETED:
        return Webhook.Event.FINISHED
    if action == Action.AUTO_HALTED:
        return Webhook.Event.HALTED
    if action == Action.AUTO_PAUSED and detail.get("errcode") == DAILY_QUOTA:
        return Webhook.Event.PAUSED_BY_QUOTA
    return None  # a pause for quiet hours, an operator's pause: not events an integration waits for


def on_move(sender: Any, campaign: Campaign, action: str, detail: dict[str, Any], **_: Any) -> None:
    """lifecycle.moved's listener, inside the move's transaction."""
    event = event_of(action, detail)
    if event is None or campaign.audience == Campaign.Audience.PREVIEWERS:
        return
    hooks = [
        h for h in Webhook.objects.filter(account_id=campaign.account_id, disabled_at__isnull=True) if event in h.events
    ]
    if not hooks:
        return
    payload = _payload(campaign, event, detail)
    made = [
        WebhookDelivery.objects.create(
            webhook=hook,
            event=event,
            event_id=f"evt_{uuid.uuid4().hex}",
            payload=payload,
            next_attempt_at=timezone.now(),
        )
        for hook in hooks
    ]
    transaction.on_commit(lambda: _enqueue([d.pk for d in made]))


def _payload(campaign: Campaign, event: str, detail: dict[str, Any]) -> dict[str, Any]:
    base = settings.WXNOTIFY_PUBLIC_URL
    return {
        "type": event,
        "created_at": timezone.localtime().isoformat(),
        "account": campaign.account.appid,
        "campaign": {
            "id": campaign.pk,
            "name": campaign.name,
            "state": campaign.state,
            "counts": selectors.progress(campaign),  # every state, and the total
            "stop_reason": detail.get("reason", ""),
            "stop_errcode": detail.get("errcode"),
            "api_url": base + reverse("api:campaign", kwargs={"campaign_id": campaign.pk}),
            "console_url": base + reverse("campaigns:detail", args=[campaign.pk]),
        },
    }


def _enqueue(ids: list[int], delay: float = 0) -> None:
    from wxnotify.api import tasks  # the worker's task; imported late (tasks import this module)

    for pk in ids:
        if delay:
            tasks.deliver_webhook.schedule((pk,), delay=delay)
        else:
            tasks.deliver_webhook(pk)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer that is not 2xx: tried again later, never followed


_opener = urllib.request.build_opener(_NoRedirect)


def attempt(delivery_id: int) -> str:
    """Post one event once, if it is still due; record the answer and when to try again. Returns its state."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("webhook")
            .filter(pk=delivery_id, state=WebhookDelivery.State.PENDING)
            .first()
        )
        if delivery is None:
            return "gone"
        if delivery.next_attempt_at and delivery.next_attempt_at > timezone.now() + timedelta(seconds=1):
            return "not due"
        # Claimed for this try: a second worker reading it now finds it not due.
        delivery.attempts += 1
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=TIMEOUT * 3)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    body = json.dumps({"id": delivery.event_id, **delivery.payload}, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    status, error = None, ""
    try:
        if not delivery.webhook.url.startswith(("https://", "http://")):
            raise ValueError("a webhook URL is http(s)")  # the form allows no other; a row edited by hand
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
            delivery.webhook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "X-Wxnotify-Event": delivery.event,
                "X-Wxnotify-Delivery": delivery.event_id,
                "X-Wxnotify-Timestamp": timestamp,
                "X-Wxnotify-Signature": sign(delivery.webhook.secret, timestamp, body),
            },
        )
        with _opener.open(request, timeout=TIMEOUT) as answer:
            status = answer.status
    except urllib.error.HTTPError as refused:
        status, error = refused.code, f"HTTP {refused.code}"
    except (OSError, ValueError) as failed:  # refused, timed out, unresolvable, bad URL
        error = str(getattr(failed, "reason", failed))[:255] or type(failed).__name__
    fields: dict[str, Any] = {"last_status": status, "last_error": error[:255]}
    if status is not None and 200 <= status < 300:
        fields |= {"state": WebhookDelivery.State.DELIVERED, "delivered_at": timezone.now(), "next_attempt_at": None}
    elif delivery.attempts >= settings.WXNOTIFY_WEBHOOK_ATTEMPTS:
        fields |= {"state": WebhookDelivery.State.FAILED, "next_attempt_at": None}
    else:
        pause = FIRST_PAUSE * 4 ** (delivery.attempts - 1)
        fields["next_attempt_at"] = timezone.now() + timedelta(seconds=pause)
        transaction.on_commit(lambda: _enqueue([delivery.pk], delay=pause))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    log.info("webhook %s %s → %s %s", delivery.event, delivery.event_id, status, error)
    return str(fields.get("state", WebhookDelivery.State.PENDING))


def due(now: Any = None) -> list[int]:
    """Events whose try is due and was not run (a worker restarted, a scheduled retry was lost): the minute
    task posts them."""
    now = now or timezone.now()
    pending = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
    return list(pending.order_by("next_attempt_at").values_list("pk", flat=True)[:500])


# --- the console's writes ---------------------------------------------------------------------------------


def add(*, account: OfficialAccount, url: str, events: list[str], user: User | None) -> tuple[Webhook, str]:
    """A new endpoint and its signing secret, which the console shows once."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    chosen = [e for e in Webhook.Event.values if e in set(events)] or list(Webhook.Event.values)
    hook = Webhook.objects.create(account=account, url=url, secret=secret, events=chosen, created_by=user)
    return hook, secret


def disable(*, hook: Webhook) -> None:
    Webhook.objects.filter(pk=hook.pk, disabled_at__isnull=True).update(disabled_at=timezone.now())
    WebhookDelivery.objects.filter(webhook=hook, state=WebhookDelivery.State.PENDING).update(
        state=WebhookDelivery.State.FAILED, last_error="endpoint disabled", next_attempt_at=None
    )


def redeliver(*, delivery: WebhookDelivery) -> None:
    """Try a given-up event again (the endpoint is fixed): the same event id, so a receiver that did get it
    can tell."""
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(webhook__disabled_at__isnull=False).update(
        state=WebhookDelivery.State.PENDING, next_attempt_at=timezone.now(), attempts=0
    )
    transaction.on_commit(lambda: _enqueue([delivery.pk]))
