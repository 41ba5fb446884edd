"""The engine's two small interfaces (and the rate limiter it shares between workers)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
class Job:
    delivery_id: int
    openid: str
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


@dataclass(frozen=True)
class Policy:
    """How a campaign reacts to failures (the case study's "stop as soon as it goes wrong")."""

    strict: bool = False  # halt on the first failure of any kind
    max_recipient_error_rate: float = 0.2  # halt when this share of the last `window` results failed
    window: int = 200
    min_results_for_rate: int = 50
    max_transient_attempts: int = 5


@dataclass
class Progress:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0
    remaining: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


class DeliveryStore(Protocol):
    async def run_state(self, campaign_id: int) -> RunState: ...

    async def content(self, campaign_id: int) -> Content: ...

    async def policy(self, campaign_id: int) -> Policy: ...

    async def claim(self, campaign_id: int, *, worker: str, limit: int, lease_seconds: float) -> Sequence[Job]:
        """Lease up to `limit` pending deliveries that can receive now; skip (and record) those that cannot."""
        ...

    async def mark_started(self, campaign_id: int, delivery_ids: Sequence[int]) -> set[int]:
        """Record, before the requests leave, that these deliveries are being attempted now; returns those
        that may be sent (still claimed by this worker: a row whose lease ran out may be someone else's).

        Claimed rows whose lease runs out go back to the queue; started ones become "unknown"."""
        ...

    async def renew_lease(self, campaign_id: int, delivery_ids: Sequence[int], *, lease_seconds: float) -> None:
        """Keep this worker's claim on deliveries it is still working on (a batch may outlast one lease)."""
        ...

    async def complete(self, campaign_id: int, results: Sequence[Result], *, policy: Policy) -> None:
        """Write results back (set-based), update the ledger, requeue transient ones with back-off."""
        ...

    async def halt(self, campaign_id: int, *, reason: str, errcode: int | None) -> None: ...

    async def pause_for_quota(self, campaign_id: int, *, reason: str) -> None: ...

    async def finish_if_done(self, campaign_id: int) -> bool:
        """Mark the campaign completed when nothing is pending or in flight; True when it is."""
        ...


class Messenger(Protocol):
    async def send(self, openid: str, content: Content, *, scene: int | None = None) -> SendAnswer: ...


class RateLimiter(Protocol):
    async def acquire(self) -> None: ...
