"""What the engine works with, and its two small interfaces: a store that persists, a messenger that sends.

The store is bound to one campaign and one worker when it is made; it decides nothing (the rules in
`rules.py` do), it only reads what the rules need and writes what they decided.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Protocol


@dataclass(frozen=True)
class Content:
    """What every recipient of a campaign gets: one template, the same field values."""

    template_id: str
    data: Mapping[str, str]
    page: str = ""
    miniprogram: Mapping[str, str] | None = None
    # Set only for the older one-time subscription message (`template/subscribe`): its title, and then
    # `data` holds one "content" text and each job carries the scene the recipient authorised.
    one_time_title: str | None = None


@dataclass(frozen=True)
class Policy:
    """How a campaign reacts to failures (the case study's "stop as soon as it goes wrong")."""

    strict: bool = False  # halt on the first failure of any kind
    max_recipient_error_rate: float = 0.2  # halt when this share of the last `window` results failed
    window: int = 200
    min_results_for_rate: int = 50
    max_transient_attempts: int = 5


@dataclass(frozen=True)
class Plan:
    """Everything about a campaign the rules need, read once when an engine starts."""

    content: Content
    policy: Policy = Policy()
    canary_count: int | None = None  # None: no canary, or the operator already let the rest go
    quiet: tuple[time, time] | None = None  # the account's quiet hours, local times in `zone`
    zone: str = "Asia/Shanghai"
    legacy: bool = False  # the older one-time message: one authorised scene per send
    long_term: bool = False  # a long-term subscription: sending uses no credit
    skip_unfollowed: bool = True


@dataclass(frozen=True)
class Candidate:
    """A claimed delivery and the facts that decide whether it can be sent now."""

    delivery_id: int
    openid: str
    attempts: int  # including this one
    has_credit: bool  # a one-time credit left, or the long-term subscription on
    scenes: tuple[int, ...] = ()  # the older one-time message's authorised scenes
    following: bool | None = None  # None: not in the follower table (treated as following)


@dataclass(frozen=True)
class Job:
    delivery_id: int
    openid: str
    attempts: int = 1
    scene: int | None = None  # older one-time subscription message only


class Outcome(enum.StrEnum):
    SENT = "sent"  # WeChat answered 0 and a msgid
    RECIPIENT = "recipient"  # this person cannot get it (43101, 40003, ...): recorded, the send goes on
    CAMPAIGN = "campaign"  # nobody will get it (40037, 47003, 45168, 48001, ...): halt at once
    TRANSIENT = "transient"  # try this person again later (-1, 45011, 43108, connection refused)
    QUOTA = "quota"  # 45009: nothing more today
    UNKNOWN = "unknown"  # the request may have reached WeChat (timeout): never re-sent blindly
    RELEASED = "released"  # not attempted (the campaign stopped first): back to the queue


@dataclass(frozen=True)
class Result:
    delivery_id: int
    openid: str
    outcome: Outcome
    errcode: int | None = None
    errmsg: str = ""
    msgid: int | None = None
    attempts: int = 1
    scene: int | None = None


@dataclass(frozen=True)
class Settlement:
    """What a result does, decided by `rules.settle`, persisted by the store."""

    delivery_id: int
    openid: str
    state: str  # sent, failed, pending, unknown
    errcode: int | None = None
    errmsg: str = ""
    msgid: int | None = None
    retry_in: float | None = None  # pending: not before this many seconds from now
    released: bool = False  # never attempted: the attempt is given back
    use_credit: bool = False  # a delivered one-time notification uses a credit (or its scene)
    zero_ledger: bool = False  # WeChat said they cannot receive it (43101)
    scene: int | None = None


@dataclass(frozen=True)
class SendAnswer:
    """What the messenger learnt from one send."""

    outcome: Outcome
    errcode: int | None = None
    errmsg: str = ""
    msgid: int | None = None


class RunState(enum.StrEnum):
    SENDING = "sending"
    PAUSED = "paused"
    HALTED = "halted"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    OTHER = "other"


class DeliveryStore(Protocol):
    """Persistence of one campaign's deliveries for one worker (both fixed when the store is made)."""

    async def plan(self) -> Plan: ...

    async def run_state(self) -> RunState: ...

    async def claim(self, *, limit: int, lease_seconds: float) -> Sequence[Candidate]:
        """Lease up to `limit` due pending deliveries, oldest first, with the facts the rules need; while a
        canary is on, never beyond it (`rules.canary_room`, applied atomically with the claim: two engines
        claiming at once must not both take the canary's last places)."""
        ...

    async def taken(self) -> tuple[int, int]:
        """(deliveries no longer pending, of which in flight): how far a canary has gone."""
        ...

    async def skip(self, skips: Sequence[tuple[int, str]]) -> None:
        """These claimed deliveries are not sent, for these reasons."""
        ...

    async def start(self, jobs: Sequence[Job]) -> set[int]:
        """Record, before the requests leave, that these are being attempted now; returns those that may be
        sent (still claimed by this worker: a row whose lease ran out may be someone else's). Claimed rows
        whose lease runs out go back to the queue; started ones become "unknown"."""
        ...

    async def renew(self, delivery_ids: Sequence[int], *, lease_seconds: float) -> None:
        """Keep this worker's claim on deliveries it is still working on."""
        ...

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        """Write what the rules decided, only for rows this worker still holds, with the ledger's effects."""
        ...

    async def stop(self, state: RunState, *, reason: str, errcode: int | None) -> None:
        """Pause or halt a sending campaign (audited as done by the system)."""
        ...

    async def finish_if_done(self) -> bool:
        """Mark the campaign completed when nothing is pending or in flight; True when it is."""
        ...


class Messenger(Protocol):
    async def send(
        self, openid: str, content: Content, *, scene: int | None = None, delivery_id: int | None = None
    ) -> SendAnswer:
        """`delivery_id` lets the messenger make the recipient's own link (click tracking)."""
        ...


class RateLimiter(Protocol):
    async def acquire(self) -> None: ...

    async def hold(self, seconds: float) -> None:
        """No slot is given out for `seconds` from now (to anyone sharing this limiter)."""
        ...
