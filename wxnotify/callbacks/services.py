"""Storing an accepted push once and applying it once."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from wechat.messages import Message
from wechat.replies import Reply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.dispatch import dispatch
from wxnotify.callbacks.models import InboundMessage


def record_inbound(
    *, account: OfficialAccount, message: Message, body: bytes, encrypted: bool
) -> tuple[InboundMessage | None, Reply | None]:
    """Store `message` and run its handlers in one transaction, or count a retry of one already stored.

    Returns (the new row, the reply) the first time and (None, None) for a duplicate: the unique
    (account, dedupe_key) constraint, not a prior read, decides, so concurrent retries are safe too.
    """
    key = message.dedupe_key()
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                account=account,
                dedupe_key=key,
                msg_type=message.msg_type[:32],
                event=message.event[:64],
                openid=message.openid[:64],
                created_at=datetime.fromtimestamp(max(message.create_time, 0), tz=UTC),
                encrypted=encrypted,
                body=body.decode("utf-8"),
            )
            reply = dispatch(account, message, inbound)
    except IntegrityError:
        if not InboundMessage.objects.filter(account=account, dedupe_key=key).exists():
            raise  # a different integrity problem, not a duplicate
        InboundMessage.objects.filter(account=account, dedupe_key=key).update(times_received=F("times_received") + 1)
        return None, None
    return inbound, reply
