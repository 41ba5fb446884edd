"""Storing an accepted push once and applying it once; the replay cache it goes through."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from wechat.messages import Message
from wechat.replies import Reply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.dispatch import dispatch
from wxnotify.callbacks.models import InboundMessage, PushNonce, RefusedPushes


class Replayed(Exception):
    """The push's nonce was already used, inside the window, by a push with another body."""


def _claim_nonce(*, account: OfficialAccount, nonce: str, timestamp: int, digest: str) -> None:
    """Record the (nonce, timestamp), or accept it again for the same body; Replayed for another body.

    The unique (account, nonce, timestamp) constraint decides, so two web processes racing with the same
    push cannot both win.
    """
    try:
        with transaction.atomic():
            PushNonce.objects.create(account=account, nonce=nonce, timestamp=timestamp, digest=digest)
        return
    except IntegrityError:
        pass
    seen = PushNonce.objects.filter(account=account, nonce=nonce, timestamp=timestamp).values_list("digest", flat=True)
    if seen.first() in (None, digest):
        return
    raise Replayed


def record_inbound(
    *, account: OfficialAccount, message: Message, body: bytes, encrypted: bool, nonce: str, timestamp: int
) -> tuple[InboundMessage | None, Reply | None]:
    """Store `message` and run its handlers in one transaction, or count a retry of one already stored.

    Returns (the new row, the reply) the first time and (None, None) for a duplicate: the unique
    (account, dedupe_key) constraint, not a prior read, decides, so concurrent retries are safe too.
    Raises Replayed, storing nothing, when `nonce` already went with another body.
    """
    key = message.dedupe_key()
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        # In the same transaction as the message: a refused replay leaves nothing, an accepted push
        # leaves its nonce even when it turns out to be a retry of a message already stored.
        _claim_nonce(account=account, nonce=nonce, timestamp=timestamp, digest=digest)
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(
                    account=account,
                    dedupe_key=key,
                    msg_type=message.msg_type[:32],
                    event=message.event[:64],
                    openid=message.openid[:64],
                    created_at=datetime.fromtimestamp(message.create_time, tz=UTC),
                    encrypted=encrypted,
                    body=body.decode("utf-8"),
                )
                reply = dispatch(account, message, inbound)
        except IntegrityError:
            if not InboundMessage.objects.filter(account=account, dedupe_key=key).exists():
                raise  # a different integrity problem, not a duplicate
            InboundMessage.objects.filter(account=account, dedupe_key=key).update(
                times_received=F("times_received") + 1
            )
            return None, None
    return inbound, reply


def prune_nonces() -> int:
    """Forget nonces whose timestamp has left the window: a push carrying one is refused before the cache."""
    before = int(time.time()) - settings.WXNOTIFY_CALLBACK_WINDOW_SECONDS - 60
    deleted, _ = PushNonce.objects.filter(timestamp__lt=before).delete()
    return deleted


def prune_refusal_counts(*, days: int = 30) -> int:
    """Refusal counts older than `days`: the console shows the last hour; a month is plenty for support."""
    deleted, _ = RefusedPushes.objects.filter(minute__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted
