"""Every write to followers goes through here: events from callbacks and the sync with WeChat."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.models import InboundMessage
from wxnotify.followers.models import Follower, FollowerChange

log = logging.getLogger(__name__)
DETAILS_PER_CALL = 100  # user/info/batchget's limit


def _follower(account: OfficialAccount, openid: str) -> Follower:
    follower, _ = Follower.objects.get_or_create(account=account, openid=openid, defaults={"is_following": False})
    return follower


def record_follow(
    *,
    account: OfficialAccount,
    openid: str,
    occurred_at: datetime,
    qr_scene: str = "",
    inbound: InboundMessage | None = None,
) -> Follower:
    follower = _follower(account, openid)
    if follower.state_changed_at is None or occurred_at >= follower.state_changed_at:
        follower.is_following = True
        follower.followed_at = occurred_at
        follower.first_followed_at = follower.first_followed_at or occurred_at
        follower.state_changed_at = occurred_at
        if qr_scene:
            follower.qr_scene = qr_scene
        follower.save()
    FollowerChange.objects.create(
        account=account,
        follower=follower,
        kind=FollowerChange.Kind.FOLLOW,
        qr_scene=qr_scene,
        occurred_at=occurred_at,
        inbound=inbound,
    )
    return follower


def record_unfollow(
    *, account: OfficialAccount, openid: str, occurred_at: datetime, inbound: InboundMessage | None = None
) -> Follower:
    follower = _follower(account, openid)
    if follower.state_changed_at is None or occurred_at >= follower.state_changed_at:
        follower.is_following = False
        follower.unfollowed_at = occurred_at
        follower.state_changed_at = occurred_at
        follower.save()
    FollowerChange.objects.create(
        account=account, follower=follower, kind=FollowerChange.Kind.UNFOLLOW, occurred_at=occurred_at, inbound=inbound
    )
    return follower


def record_scan(
    *,
    account: OfficialAccount,
    openid: str,
    occurred_at: datetime,
    qr_scene: str,
    inbound: InboundMessage | None = None,
) -> Follower:
    """A follower scanned a parametric QR code; proof that they follow, for an account whose sync is old."""
    follower = _follower(account, openid)
    if not follower.is_following and follower.state_changed_at is None:
        follower.is_following = True
        follower.save(update_fields=["is_following"])
    FollowerChange.objects.create(
        account=account,
        follower=follower,
        kind=FollowerChange.Kind.SCAN,
        qr_scene=qr_scene,
        occurred_at=occurred_at,
        inbound=inbound,
    )
    return follower


@dataclass(frozen=True)
class SyncResult:
    listed: int  # openids WeChat listed
    added: int  # not known before
    refollowed: int  # known as not following, listed now
    missing: int  # known as following, not listed: they unfollowed while we were not told


@transaction.atomic
def _apply_page(account: OfficialAccount, openids: list[str], started: datetime) -> tuple[list[str], list[str]]:
    known = dict(Follower.objects.filter(account=account, openid__in=openids).values_list("openid", "is_following"))
    new = [
        Follower(account=account, openid=o, is_following=True, synced_at=started)
        for o in dict.fromkeys(openids)
        if o not in known
    ]
    Follower.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
    # Only those whose state is older than the sync: a follow/unfollow event that arrived during
    # the sync is newer than the list and wins.
    refollow = Follower.objects.filter(account=account, openid__in=[o for o, f in known.items() if not f]).exclude(
        state_changed_at__gte=started
    )
    refollowed_ids = list(refollow.values_list("id", flat=True))
    Follower.objects.filter(id__in=refollowed_ids).update(is_following=True, state_changed_at=started)
    FollowerChange.objects.bulk_create(
        [
            FollowerChange(account=account, follower_id=i, kind=FollowerChange.Kind.SYNC_FOUND, occurred_at=started)
            for i in refollowed_ids
        ],
        batch_size=2000,
    )
    Follower.objects.filter(account=account, openid__in=openids).update(synced_at=started)
    refollowed = list(Follower.objects.filter(id__in=refollowed_ids).values_list("openid", flat=True))
    return [f.openid for f in new], refollowed


@transaction.atomic
def _apply_details(account: OfficialAccount, users: list[dict[str, Any]]) -> int:
    """WeChat's own follow time and QR scene for followers a sync found (user/info/batchget): they become a
    follow on the day it happened, so follower growth counts them where they belong. A follower whose known
    follow time is as recent is left alone: a follow event we received wins."""
    when: dict[str, tuple[datetime, str]] = {}
    sources: dict[str, str] = {}
    for user in users:
        if not user.get("subscribe") or not user.get("subscribe_time"):
            continue  # left meanwhile; the next sync sees it
        qr = user.get("subscribe_scene") == "ADD_SCENE_QR_CODE"
        scene = str(user.get("qr_scene_str") or "")[:64] if qr else ""
        openid = str(user.get("openid", ""))
        when[openid] = (datetime.fromtimestamp(int(user["subscribe_time"]), tz=UTC), scene)
        sources[openid] = str(user.get("subscribe_scene") or "")[:40]
    changed, described = [], []
    for follower in Follower.objects.filter(account=account, openid__in=list(when)):
        at, scene = when[follower.openid]
        if sources[follower.openid] and follower.source != sources[follower.openid]:
            follower.source = sources[follower.openid]  # how they came, whichever side knew the time first
            described.append(follower)
        if follower.followed_at is not None and follower.followed_at >= at:
            continue
        follower.followed_at = at
        follower.first_followed_at = follower.first_followed_at or at
        follower.qr_scene = scene or follower.qr_scene
        changed.append(follower)
    Follower.objects.bulk_update(changed, ["followed_at", "first_followed_at", "qr_scene", "source"])
    Follower.objects.bulk_update([f for f in described if f not in changed], ["source"])
    FollowerChange.objects.bulk_create(
        FollowerChange(
            account=account,
            follower=f,
            kind=FollowerChange.Kind.FOLLOW,
            qr_scene=when[f.openid][1],
            occurred_at=when[f.openid][0],
        )
        for f in changed
    )
    return len(changed)


@transaction.atomic
def _mark_missing(account: OfficialAccount, started: datetime) -> int:
    gone = (
        Follower.objects.filter(account=account, is_following=True)
        .exclude(synced_at__gte=started)
        .exclude(state_changed_at__gte=started)
    )
    ids = list(gone.values_list("id", flat=True))
    for chunk in _chunks(ids, 5000):
        Follower.objects.filter(id__in=chunk).update(
            is_following=False, unfollowed_at=started, state_changed_at=started
        )
        FollowerChange.objects.bulk_create(
            [
                FollowerChange(
                    account=account, follower_id=i, kind=FollowerChange.Kind.SYNC_MISSING, occurred_at=started
                )
                for i in chunk
            ]
        )
    return len(ids)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


UserDetails = Callable[[list[str]], Awaitable[list[dict[str, Any]]]]


async def _fetch_details(account: OfficialAccount, openids: list[str], details: UserDetails) -> None:
    for start in range(0, len(openids), DETAILS_PER_CALL):
        users = await details(openids[start : start + DETAILS_PER_CALL])
        await sync_to_async(_apply_details)(account, users)


async def sync_followers(
    *, account: OfficialAccount, pages: AsyncIterator[list[str]], details: UserDetails | None = None
) -> SyncResult:
    """Make the follower table match WeChat's list, page by page (user/get gives ≤10,000 a page).

    People missing from a *complete* listing are marked unfollowed; if the listing fails midway
    nothing is marked missing, because absence from half a list proves nothing.
    """
    started = timezone.now()
    listed = added = refollowed = 0
    async for openids in pages:
        listed += len(openids)
        page_added, page_refollowed = await sync_to_async(_apply_page)(account, openids, started)
        added += len(page_added)
        refollowed += len(page_refollowed)
        if details is not None:
            await _fetch_details(account, page_added + page_refollowed, details)
    missing = await sync_to_async(_mark_missing)(account, started)
    log.info(
        "follower sync %s: listed=%s added=%s refollowed=%s missing=%s",
        account.appid,
        listed,
        added,
        refollowed,
        missing,
    )
    return SyncResult(listed=listed, added=added, refollowed=refollowed, missing=missing)
