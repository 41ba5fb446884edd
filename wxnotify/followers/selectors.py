"""Reads about followers that other apps need."""

from __future__ import annotations

from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.models import InboundMessage
from wxnotify.followers.models import FollowerChange


def followed_before(*, account: OfficialAccount, openid: str, excluding: InboundMessage | None = None) -> bool:
    """Whether we knew `openid` as a follower before `excluding` (a follow push being handled): an earlier
    follow, an unfollow, or the follower list synced from WeChat. Independent of the order handlers run in."""
    changes = FollowerChange.objects.filter(account=account, follower__openid=openid)
    if excluding is not None:
        changes = changes.exclude(inbound=excluding)
    return changes.exists()
