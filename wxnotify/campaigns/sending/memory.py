"""In-memory store and messenger for the engine's unit tests. The store only persists, like the database
one: the engine applies the rules (skips, canary, quiet hours, retries, halts, credits), so the tests here
exercise exactly the decisions the real sends make."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wxnotify.campaigns.sending import rules
from wxnotify.campaigns.sending.ports import (
    Candidate,
    Content,
    Job,
    Outcome,
    Plan,
    RunState,
    SendAnswer,
    Settlement,
)

HELD = ("claimed", "sending", "unknown")


@dataclass
class Row:
    id: int
    openid: str
    state: str = "pending"  # pending, claimed, sending, sent, failed, skipped, unknown
    attempts: int = 0
    lease_until: float = 0.0
    due: float = 0.0
    errcode: int | None = None
    errmsg: str = ""
    msgid: int | None = None
    worker: str = ""
    scene: int | None = None


@dataclass
class Ledger:
    """The campaign's side of the subscription ledger and the follower list, as the store sees them."""

    credits: Counter[str] = field(default_factory=Counter)
    scenes: dict[str, list[int]] = field(default_factory=dict)
    unfollowed: set[str] = field(default_factory=set)


@dataclass
class MemoryCampaign:
    """One campaign's deliveries in memory, shared by the engines of a test (each with its own `store`)."""

    plan: Plan
    rows: dict[int, Row] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    state: RunState = RunState.SENDING
    halt_reason: str = ""
    stop_errcode: int | None = None
    started_marks: int = 0
    renewals: int = 0
    settled_writes: int = 0

    @classmethod
    def with_recipients(cls, openids: Sequence[str], content: Content, **plan: object) -> MemoryCampaign:
        campaign = cls(Plan(content, **plan))  # type: ignore[arg-type]
        for i, openid in enumerate(openids, 1):
            campaign.rows[i] = Row(i, openid)
            campaign.ledger.credits[openid] = 1
        return campaign

    def store(self, worker: str = "engine-1") -> MemoryStore:
        return MemoryStore(self, worker)

    def by_state(self) -> Counter[str]:
        return Counter(r.state for r in self.rows.values())

    def expire(self, now: float | None = None) -> None:
        """A lease ran out (a crash): never-started rows are queued again, started ones are unknown."""
        now = time.monotonic() if now is None else now
        for row in self.rows.values():
            if row.state in ("claimed", "sending") and row.lease_until <= now:
                if row.state == "claimed":
                    row.state, row.attempts = "pending", row.attempts - 1
                else:
                    row.state = "unknown"

    def crash(self) -> None:
        """Every lease runs out at once."""
        for row in self.rows.values():
            row.lease_until = 0.0
        self.expire()


@dataclass
class MemoryStore:
    """The store of one engine: bound to its campaign and worker name, like the database store."""

    campaign: MemoryCampaign
    worker: str

    @property
    def rows(self) -> dict[int, Row]:
        return self.campaign.rows

    async def plan(self) -> Plan:
        return self.campaign.plan

    async def run_state(self) -> RunState:
        return self.campaign.state

    async def claim(self, *, limit: int, lease_seconds: float) -> list[Candidate]:
        now = time.monotonic()
        self.campaign.expire(now)
        taken, _ = await self.taken()
        limit = rules.canary_room(self.campaign.plan, taken=taken, limit=limit)
        ledger = self.campaign.ledger
        out: list[Candidate] = []
        for row in self.rows.values():
            if len(out) >= limit:
                break
            if row.state != "pending" or row.due > now:
                continue
            row.state, row.lease_until, row.worker = "claimed", now + lease_seconds, self.worker
            row.attempts += 1
            scenes = tuple(ledger.scenes.get(row.openid, ()))
            following = False if row.openid in ledger.unfollowed else None
            out.append(Candidate(row.id, row.openid, row.attempts, ledger.credits[row.openid] > 0, scenes, following))
        return out

    async def taken(self) -> tuple[int, int]:
        states = self.campaign.by_state()
        return len(self.rows) - states["pending"], states["claimed"] + states["sending"]

    async def skip(self, skips: Sequence[tuple[int, str]]) -> None:
        for delivery_id, reason in skips:
            row = self.rows[delivery_id]
            row.state, row.errmsg = "skipped", reason

    def _mine(self, row: Row, *states: str) -> bool:
        return row.worker == self.worker and row.state in states

    async def start(self, jobs: Sequence[Job]) -> set[int]:
        self.campaign.started_marks += 1
        mine = {j.delivery_id for j in jobs if self._mine(self.rows[j.delivery_id], "claimed")}
        for j in jobs:
            if j.delivery_id in mine:
                self.rows[j.delivery_id].state = "sending"
                self.rows[j.delivery_id].scene = j.scene
        return mine

    async def renew(self, delivery_ids: Sequence[int], *, lease_seconds: float) -> None:
        self.campaign.renewals += 1
        for i in delivery_ids:
            if self._mine(self.rows[i], "claimed", "sending"):
                self.rows[i].lease_until = time.monotonic() + lease_seconds

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        self.campaign.settled_writes += 1
        ledger = self.campaign.ledger
        for s in settlements:
            row = self.rows[s.delivery_id]
            if not self._mine(row, *HELD):
                continue  # settled by someone else meanwhile: theirs to record
            row.state, row.errcode, row.errmsg, row.lease_until = s.state, s.errcode, s.errmsg, 0.0
            if s.state == "sent":
                row.msgid = s.msgid
            if s.released:
                row.attempts -= 1
            if s.retry_in is not None:
                row.due = time.monotonic() + s.retry_in
            if s.use_credit:
                scenes = ledger.scenes.get(row.openid)
                if scenes is not None and s.scene in scenes:
                    scenes.remove(s.scene)
                    ledger.credits[row.openid] = len(scenes)
                else:
                    ledger.credits[row.openid] = max(0, ledger.credits[row.openid] - 1)
            if s.zero_ledger:
                ledger.credits[row.openid] = 0
                ledger.scenes.pop(row.openid, None)

    async def stop(self, state: RunState, *, reason: str, errcode: int | None) -> None:
        campaign = self.campaign
        if campaign.state == RunState.SENDING:
            campaign.state, campaign.halt_reason, campaign.stop_errcode = state, reason, errcode

    async def finish_if_done(self) -> bool:
        if any(r.state in ("pending", "claimed", "sending") for r in self.rows.values()):
            return False
        if self.campaign.state == RunState.SENDING:
            self.campaign.state = RunState.COMPLETED
        return self.campaign.state == RunState.COMPLETED


@dataclass
class ScriptedMessenger:
    """Answers per openid from `script` (a function), counting what was sent to whom."""

    script: Callable[[str, int], SendAnswer] = lambda openid, n: SendAnswer(Outcome.SENT, 0, "ok", 1000 + n)
    delay: float = 0.0
    sent: Counter[str] = field(default_factory=Counter)  # successful sends per openid
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    scenes: list[int | None] = field(default_factory=list)

    async def send(
        self, openid: str, content: Content, *, scene: int | None = None, delivery_id: int | None = None
    ) -> SendAnswer:
        self.calls += 1
        n = self.calls
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.scenes.append(scene)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            answer = self.script(openid, n)
        finally:
            self.in_flight -= 1
        if answer.outcome == Outcome.SENT:
            self.sent[openid] += 1
        return answer


class Unlimited:
    async def acquire(self) -> None:
        return None

    async def hold(self, seconds: float) -> None:
        return None
