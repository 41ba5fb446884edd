"""The engine: a pipeline that claims deliveries under a lease, marks them started just before their
requests leave, sends them with bounded concurrency at the account's rate, and writes the answers back
in chunks — applying the rules of `rules.py` at each step, so any store (the database, or memory in the
unit tests) sees the same decisions.

    claimer ──claimed──▶ starter ──ready──▶ senders (× concurrency) ──results──▶ writer
       │  triage: skips                         │ HaltRules: stop            │ rules.settle
       ▼                                        ▼                            ▼
    store.claim / skip               store.start (chunks)               store.settle (chunks)

WeChat's per-minute quota (45011) holds every sender sharing the rate limit until the next minute
(`rules.quota_hold`), so the refusals stop at what was already on its way.

The next batch is claimed while the current one is in flight (no barrier). A crash leaves "unknown" at
most what was in flight (`concurrency`), two start chunks, and the answers not yet written back (a write
chunk, or what came in since the last flush): WeChat's delivery reports settle most of them.
Any number of engines (threads, processes, machines) may run one campaign: the store's claim
is the only coordination. Progress advances only on WeChat's answer, never when a batch is fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from wxnotify.campaigns.sending import rules
from wxnotify.campaigns.sending.ports import (
    DeliveryStore,
    Job,
    Messenger,
    Outcome,
    Plan,
    RateLimiter,
    Result,
    RunState,
)

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EngineConfig:
    batch_size: int = 500  # deliveries claimed per query
    concurrency: int = 32
    lease_seconds: float = 60.0
    idle_seconds: float = 0.5  # wait when others hold the rest, or retries are not due yet
    state_check_seconds: float = 0.5  # how often a running send looks for pause/halt by others
    start_chunk: int = 0  # deliveries marked started per write; 0: the concurrency (smaller starved the senders)
    write_chunk: int = 0  # answers written back per write; 0: four times the concurrency
    flush_seconds: float = 0.2  # … or at least this often
    backoff_seconds: float = 1.0  # the first wait before a transient failure is retried
    clock: Callable[[], datetime] = field(default=utc_now)


@dataclass
class RunReport:
    batches: int = 0
    attempted: int = 0
    final_state: RunState = RunState.OTHER
    halted_by_me: str = ""


class Engine:
    def __init__(
        self, store: DeliveryStore, messenger: Messenger, limiter: RateLimiter, config: EngineConfig | None = None
    ) -> None:
        self.store = store
        self.messenger = messenger
        self.limiter = limiter
        self.config = config or EngineConfig()

    async def run(self) -> RunReport:
        return await _Run(self, await self.store.plan()).run()


class _Run:
    """One engine's work on one campaign, until it is done, stopped, or stopped by this engine."""

    def __init__(self, engine: Engine, plan: Plan) -> None:
        config = engine.config
        self.store, self.messenger, self.limiter, self.config = engine.store, engine.messenger, engine.limiter, config
        self.plan = plan
        self.halts = rules.HaltRules(plan.policy)
        self.report = RunReport()
        self.stop = asyncio.Event()
        self.halt: rules.Halt | None = None
        self.claimed: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=config.batch_size * 2)
        self.start_chunk = config.start_chunk or max(1, config.concurrency)
        # Started and not yet sent: at most one chunk waiting here and one being put, so a crash leaves at most
        # concurrency + 2 chunks "unknown".
        self.ready: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=self.start_chunk)
        self.held: set[int] = set()  # claimed or started by this engine, not yet written back
        self.answers: list[Result] = []
        self.answered = asyncio.Event()
        self.write_chunk = config.write_chunk or max(1, config.concurrency * 4)

    async def run(self) -> RunReport:
        watcher = asyncio.create_task(self.watch())
        writer = asyncio.create_task(self.write())
        try:
            await asyncio.gather(self.claim(), self.start(), *(self.send() for _ in range(self.config.concurrency)))
        finally:
            self.stop.set()
            watcher.cancel()
            self.answered.set()
            await writer
        if self.halt is not None:
            state = RunState.PAUSED if self.halt.for_quota else RunState.HALTED
            await self.store.stop(state, reason=self.halt.reason, errcode=self.halt.errcode)
            self.report.halted_by_me = self.halt.reason
            log.warning("campaign stopped by this engine: %s", self.halt.reason)
        if self.report.final_state == RunState.OTHER:
            self.report.final_state = await self.store.run_state()
        return self.report

    # --- claimer ------------------------------------------------------------------------------

    async def claim(self) -> None:
        try:
            while not self.stop.is_set():
                if await self._claim_once():
                    continue
                await asyncio.sleep(self.config.idle_seconds)
        finally:
            await self.claimed.put(None)

    async def _claim_once(self) -> bool:
        """One claim; False when there was nothing to take (and the caller should wait)."""
        state = await self.store.run_state()
        if state != RunState.SENDING:
            self.report.final_state = state
            self.stop.set()
            return True
        if rules.in_quiet_hours(self.plan.quiet, self.config.clock(), self.plan.zone):
            await self.store.stop(RunState.PAUSED, reason=rules.QUIET_REASON, errcode=None)
            self.stop.set()
            return True
        candidates = await self.store.claim(limit=self.config.batch_size, lease_seconds=self.config.lease_seconds)
        if not candidates:
            if self.plan.canary_count:
                taken, busy = await self.store.taken()
                if rules.canary_room(self.plan, taken=taken, limit=1) == 0:
                    if busy == 0:  # the canary's answers are all in: wait for the operator
                        await self.store.stop(RunState.PAUSED, reason=rules.canary_reason(self.plan), errcode=None)
                        self.stop.set()
                        return True
                    return False
            if await self.store.finish_if_done():
                self.report.final_state = RunState.COMPLETED
                self.stop.set()
                return True
            return False
        self.report.batches += 1
        jobs, skips = rules.triage(candidates, self.plan)
        if skips:
            await self.store.skip(skips)
        for job in jobs:
            self.held.add(job.delivery_id)
            await self.claimed.put(job)  # waits while two batches are queued: the pipeline's back-pressure
        return True

    # --- starter ------------------------------------------------------------------------------

    async def start(self) -> None:
        done = False
        try:
            while not done:
                job = await self.claimed.get()
                if job is None:
                    break
                chunk = [job]
                while len(chunk) < self.start_chunk and not self.claimed.empty():
                    more = self.claimed.get_nowait()
                    if more is None:
                        done = True
                        break
                    chunk.append(more)
                if self.stop.is_set():
                    for j in chunk:
                        self.answer(Result(j.delivery_id, j.openid, Outcome.RELEASED, attempts=j.attempts))
                    continue
                mine = await self.store.start(chunk)
                for j in chunk:
                    if j.delivery_id in mine:
                        await self.ready.put(j)
                    else:
                        self.held.discard(j.delivery_id)  # our lease ran out and another worker took it
        finally:
            for _ in range(self.config.concurrency):
                await self.ready.put(None)

    # --- senders ------------------------------------------------------------------------------

    async def send(self) -> None:
        while (job := await self.ready.get()) is not None:
            if self.stop.is_set():
                self.answer(Result(job.delivery_id, job.openid, Outcome.RELEASED, attempts=job.attempts))
                continue
            await self.limiter.acquire()
            if self.stop.is_set():
                self.answer(Result(job.delivery_id, job.openid, Outcome.RELEASED, attempts=job.attempts))
                continue
            asked_at = self.config.clock()
            answer = await self.messenger.send(
                job.openid, self.plan.content, scene=job.scene, delivery_id=job.delivery_id
            )
            if (wait := rules.quota_hold(answer.errcode, asked_at=asked_at, now=self.config.clock())) is not None:
                await self.limiter.hold(wait)
            result = Result(
                job.delivery_id,
                job.openid,
                answer.outcome,
                answer.errcode,
                answer.errmsg,
                answer.msgid,
                attempts=job.attempts,
                scene=job.scene,
            )
            self.report.attempted += 1
            self.answer(result)
            halt = self.halts.judge(result)
            if halt is not None and self.halt is None:
                self.halt = halt
                self.stop.set()

    def answer(self, result: Result) -> None:
        self.answers.append(result)
        if len(self.answers) >= self.write_chunk:
            self.answered.set()

    # --- writer -------------------------------------------------------------------------------

    async def write(self) -> None:
        """Write answers back in chunks, at least every `flush_seconds`, and whatever is left at the end."""
        while True:
            with contextlib.suppress(TimeoutError):  # a timeout only means: flush what there is
                await asyncio.wait_for(self.answered.wait(), self.config.flush_seconds)
            self.answered.clear()
            finishing = self.stop.is_set() and self.claimed.empty() and self.ready.empty()
            await self._flush()
            if finishing and self._all_settled():
                return

    def _all_settled(self) -> bool:
        return not self.held and not self.answers

    async def _flush(self) -> None:
        if not self.answers:
            return
        batch, self.answers = self.answers, []
        now = self.config.clock()
        settlements = [rules.settle(r, self.plan, base_backoff=self.config.backoff_seconds, now=now) for r in batch]
        await self.store.settle(settlements)
        self.held.difference_update(r.delivery_id for r in batch)

    # --- watcher ------------------------------------------------------------------------------

    async def watch(self) -> None:
        """Notice a pause or halt decided elsewhere, and keep the lease on what this engine holds."""
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            await asyncio.sleep(self.config.state_check_seconds)
            if await self.store.run_state() != RunState.SENDING:
                self.stop.set()
            if loop.time() - renewed > self.config.lease_seconds / 3 and self.held:
                renewed = loop.time()
                await self.store.renew(list(self.held), lease_seconds=self.config.lease_seconds)
