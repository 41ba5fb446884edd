"""Callback handlers: follow, unfollow and scan events update the follower table."""

from __future__ import annotations

from datetime import UTC, datetime

from wechat.messages import FollowEvent, ScanEvent, UnfollowEvent
from wechat.replies import Reply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.dispatch import handles
from wxnotify.callbacks.models import InboundMessage
from wxnotify.followers import services


def _when(create_time: int) -> datetime:
    return datetime.fromtimestamp(max(create_time, 0), tz=UTC)


@handles(FollowEvent)
def on_follow(account: OfficialAccount, event: FollowEvent, inbound: InboundMessage) -> Reply | None:
    services.record_follow(
        account=account,
        openid=event.openid,
        occurred_at=_when(event.create_time),
        qr_scene=event.scene or "",
        inbound=inbound,
    )
    return None


@handles(UnfollowEvent)
def on_unfollow(account: OfficialAccount, event: UnfollowEvent, inbound: InboundMessage) -> Reply | None:
    services.record_unfollow(
        account=account, openid=event.openid, occurred_at=_when(event.create_time), inbound=inbound
    )
    return None


@handles(ScanEvent)
def on_scan(account: OfficialAccount, event: ScanEvent, inbound: InboundMessage) -> Reply | None:
    services.record_scan(
        account=account,
        openid=event.openid,
        occurred_at=_when(event.create_time),
        qr_scene=event.scene,
        inbound=inbound,
    )
    return None
