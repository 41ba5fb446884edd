"""In-memory store and messenger: the engine's unit tests run against these, with the same rules as
the database store (credits checked at claim, leases, transient back-off, unknown never re-sent)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wxnotify.campaigns.sending.ports import Content, Job, Outcome, Policy, Result, RunState, SendAnswer


@dataclass
class Row:
    id: int
    openid: str
    state: str = "pending"  # pending, claimed, sending, sent, failed, skipped, unknown
    attempts: int = 0
    lease_until: float = 0.0
    due: float = 0.0
    errcode: int | None = None
    msgid: int | None = None


@dataclass
class MemoryStore:
    content_: Content
    rows: dict[int, Row] = field(default_factory=dict)
    credits: Counter[str] = field(default_factory=Counter)
    state: RunState = RunState.SENDING
    halt_reason: str = ""
    policy_: Policy = field(default_factory=Policy)
    backoff: float = 0.01
    started_marks: int = 0
    renewals: int = 0

    @classmethod
    def with_recipients(cls, openids: Sequence[str], content: Content, **kw: object) -> MemoryStore:
        store = cls(content, **kw)  # type: ignore[arg-type]
        for i, openid in enumerate(openids, 1):
            store.rows[i] = Row(i, openid)
            store.credits[openid] = 1
        return store

    async def run_state(self, campaign_id: int) -> RunState:
        return self.state

    async def content(self, campaign_id: int) -> Content:
        return self.content_

    async def policy(self, campaign_id: int) -> Policy:
        return self.policy_

    async def claim(self, campaign_id: int, *, worker: str, limit: int, lease_seconds: float) -> list[Job]:
        now = time.monotonic()
        jobs: list[Job] = []
        for row in self.rows.values():
            if len(jobs) >= limit:
                break
            if row.state != "pending" or row.due > now:
                continue
            if self.credits[row.openid] <= 0:
                row.state = "skipped"
                continue
            row.state, row.lease_until = "claimed", now + lease_seconds
            row.attempts += 1
            jobs.append(Job(row.id, row.openid))
        await asyncio.sleep(0)
        return jobs

    async def mark_started(self, campaign_id: int, delivery_ids: Sequence[int]) -> set[int]:
        self.started_marks += 1
        mine = {i for i in delivery_ids if self.rows[i].state == "claimed"}
        for i in mine:
            self.rows[i].state = "sending"
        return mine

    async def renew_lease(self, campaign_id: int, delivery_ids: Sequence[int], *, lease_seconds: float) -> None:
        self.renewals += 1
        for i in delivery_ids:
            if self.rows[i].state in ("claimed", "sending"):
                self.rows[i].lease_until = time.monotonic() + lease_seconds

    def expire(self) -> None:
        """What a lease expiry does after a crash: never-started rows are queued again, started ones are unknown."""
        for row in self.rows.values():
            if row.state == "claimed":
                row.state = "pending"
            elif row.state == "sending":
                row.state = "unknown"

    async def complete(self, campaign_id: int, results: Sequence[Result], *, policy: Policy) -> None:
        for r in results:
            row = self.rows[r.delivery_id]
            row.errcode = r.errcode
            if r.outcome == Outcome.SENT:
                row.state, row.msgid = "sent", r.msgid
                self.credits[row.openid] -= 1
            elif r.outcome in (Outcome.RECIPIENT, Outcome.CAMPAIGN):
                row.state = "failed" if r.outcome == Outcome.RECIPIENT else "pending"
                if r.errcode == 43101:
                    self.credits[row.openid] = 0
            elif r.outcome == Outcome.UNKNOWN:
                row.state = "unknown"
            elif r.outcome in (Outcome.TRANSIENT, Outcome.QUOTA):
                if row.attempts >= policy.max_transient_attempts:
                    row.state = "failed"
                else:
                    row.state, row.due = "pending", time.monotonic() + self.backoff * row.attempts
            elif r.outcome == Outcome.RELEASED:
                row.state = "pending"
                row.attempts -= 1

    async def halt(self, campaign_id: int, *, reason: str, errcode: int | None) -> None:
        if self.state == RunState.SENDING:
            self.state, self.halt_reason = RunState.HALTED, reason

    async def pause_for_quota(self, campaign_id: int, *, reason: str) -> None:
        self.state, self.halt_reason = RunState.PAUSED, reason

    async def finish_if_done(self, campaign_id: int) -> bool:
        if any(r.state in ("pending", "claimed", "sending") for r in self.rows.values()):
            return False
        self.state = RunState.COMPLETED
        return True

    def by_state(self) -> Counter[str]:
        return Counter(r.state for r in self.rows.values())


@dataclass
class ScriptedMessenger:
    """Answers per openid from `script` (a function), counting what was sent to whom."""

    script: Callable[[str, int], SendAnswer] = lambda openid, n: SendAnswer(Outcome.SENT, 0, "ok", 1000 + n)
    delay: float = 0.0
    sent: Counter[str] = field(default_factory=Counter)  # successful sends per openid
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    async def send(self, openid: str, content: Content, *, scene: int | None = None) -> SendAnswer:
        self.calls += 1
        n = self.calls
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
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
