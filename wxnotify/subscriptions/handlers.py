"""Callback handlers: subscription popups and settings changes update the ledger (inside the
transaction that stores the push, so a retried push changes nothing twice)."""

from __future__ import annotations

from datetime import UTC, datetime

from wechat.messages import SubscribeChangeEvent, SubscribePopupEvent
from wechat.replies import Reply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.dispatch import handles
from wxnotify.callbacks.models import InboundMessage
from wxnotify.subscriptions import services


def _when(create_time: int) -> datetime:
    return datetime.fromtimestamp(max(create_time, 0), tz=UTC)


@handles(SubscribePopupEvent)
def on_popup(account: OfficialAccount, event: SubscribePopupEvent, inbound: InboundMessage) -> Reply | None:
    services.record_popup(account=account, event=event, inbound=inbound, at=_when(event.create_time))
    return None


@handles(SubscribeChangeEvent)
def on_change(account: OfficialAccount, event: SubscribeChangeEvent, inbound: InboundMessage) -> Reply | None:
    services.record_settings_rejection(account=account, event=event, inbound=inbound, at=_when(event.create_time))
    return None
