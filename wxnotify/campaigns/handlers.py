"""WeChat's delivery reports (subscribe_msg_sent_event): confirm sends, and settle unknown outcomes."""

from __future__ import annotations

from wechat.messages import SubscribeSentEvent
from wechat.replies import Reply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.dispatch import handles
from wxnotify.callbacks.models import InboundMessage
from wxnotify.campaigns import services


@handles(SubscribeSentEvent)
def on_sent(account: OfficialAccount, event: SubscribeSentEvent, inbound: InboundMessage) -> Reply | None:
    services.record_delivery_reports(account=account, event=event)
    return None
