"""The engine: claim a batch under a lease, send it with bounded concurrency at the account's rate,
write the answers back, stop itself when failures show the campaign is going wrong.

Any number of engines (threads, processes, machines) may run one campaign: the store's claim is the
only coordination. Progress advances only on WeChat's answer (never when a batch is fetched), so a
crash leaves in-flight rows "sending" until their lease expires and they become "unknown".
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from wxnotify.campaigns.sending.ports import (
    Content,
    DeliveryStore,
    Job,
    Messenger,
    Outcome,
    Policy,
    RateLimiter,
    Result,
    RunState,
)

log = logging.getLogger(__name__)
FAILURES = {Outcome.RECIPIENT, Outcome.CAMPAIGN, Outcome.TRANSIENT, Outcome.QUOTA, Outcome.UNKNOWN}


@dataclass(frozen=True)
class EngineConfig:
    batch_size: int = 200
    concurrency: int = 32
    lease_seconds: float = 60.0
    idle_seconds: float = 0.5  # wait when others hold the rest, or retries are not due yet
    state_check_seconds: float = 0.5  # how often a running batch looks for pause/halt by others
    # Deliveries are marked "started" in chunks just before their requests leave, and answers are
    # written back in chunks as they come: one write per chunk instead of one per send. After a crash
    # at most concurrency + 2 × chunk deliveries are left "unknown".
    start_chunk: int = 0  # 0: a quarter of the concurrency


@dataclass
class RunReport:
    batches: int = 0
    attempted: int = 0
    final_state: RunState = RunState.OTHER
    halted_by_me: str = ""


class Halt(Exception):
    def __init__(self, reason: str, errcode: int | None) -> None:
        super().__init__(reason)
        self.reason, self.errcode = reason, errcode


class Engine:
    def __init__(
        self, store: DeliveryStore, messenger: Messenger, limiter: RateLimiter, config: EngineConfig | None = None
    ) -> None:
        self.store = store
        self.messenger = messenger
        self.limiter = limiter
        self.config = config or EngineConfig()

    async def run(self, campaign_id: int, *, worker: str) -> RunReport:
        report = RunReport()
        content = await self.store.content(campaign_id)
        policy = await self.store.policy(campaign_id)
        recent: deque[bool] = deque(maxlen=policy.window)  # True = failed (recipient errors count)
        while True:
            state = await self.store.run_state(campaign_id)
            if state != RunState.SENDING:
                report.final_state = state
                return report
            jobs = await self.store.claim(
                campaign_id, worker=worker, limit=self.config.batch_size, lease_seconds=self.config.lease_seconds
            )
            if not jobs:
                if await self.store.finish_if_done(campaign_id):
                    report.final_state = RunState.COMPLETED
                    return report
                await asyncio.sleep(self.config.idle_seconds)
                continue
            report.batches += 1
            results, halt = await self._send_batch(campaign_id, jobs, content, policy, recent)
            report.attempted += sum(r.outcome != Outcome.RELEASED for r in results)
            if halt is not None:
                if halt.errcode == 45009:
                    await self.store.pause_for_quota(campaign_id, reason=halt.reason)
                else:
                    await self.store.halt(campaign_id, reason=halt.reason, errcode=halt.errcode)
                report.halted_by_me = halt.reason
                log.warning("campaign %s stopped by %s: %s", campaign_id, worker, halt.reason)

    async def _send_batch(
        self, campaign_id: int, jobs: Sequence[Job], content: Content, policy: Policy, recent: deque[bool]
    ) -> tuple[list[Result], Halt | None]:
        """Send `jobs`; once a halt is decided (here or by another worker), jobs not yet started are released."""
        stop = asyncio.Event()
        halt: list[Halt] = []
        gate = asyncio.Semaphore(self.config.concurrency)  # FIFO: jobs start in claim order
        results: list[Result] = []
        chunk = self.config.start_chunk or max(1, self.config.concurrency // 4)
        index = {job.delivery_id: i for i, job in enumerate(jobs)}
        marked = [0]  # jobs[:marked[0]] have been through mark_started …
        started: set[int] = set()  # … and these were still ours, so they may be sent
        marking = asyncio.Lock()
        unwritten: list[Result] = []
        writing = asyncio.Lock()

        async def write_back(force: bool = False) -> None:
            async with writing:
                if unwritten and (force or len(unwritten) >= chunk):
                    batch = unwritten[:]
                    unwritten.clear()
                    await self.store.complete(campaign_id, batch, policy=policy)

        async def ensure_started(job: Job) -> bool:
            """Marks the next chunk started when `job` is the first of it; False if the row is no longer ours."""
            async with marking:
                i = index[job.delivery_id]
                if i >= marked[0]:
                    upto = min(len(jobs), max(i + 1, marked[0] + chunk))
                    mine = await self.store.mark_started(campaign_id, [j.delivery_id for j in jobs[marked[0] : upto]])
                    started.update(mine)
                    marked[0] = upto
            return job.delivery_id in started

        def decide(result: Result) -> None:
            if result.outcome in (Outcome.CAMPAIGN, Outcome.QUOTA):
                reason = f"{result.errcode}: {result.errmsg}" if result.errcode else result.errmsg
                halt.append(Halt(reason, result.errcode))
            elif policy.strict and result.outcome in FAILURES:
                halt.append(Halt(f"strict mode: {result.errcode or result.outcome}: {result.errmsg}", result.errcode))
            if result.outcome in (Outcome.SENT, Outcome.RECIPIENT):
                recent.append(result.outcome == Outcome.RECIPIENT)
                failed = sum(recent)
                if (
                    len(recent) >= policy.min_results_for_rate
                    and failed / len(recent) > policy.max_recipient_error_rate
                ):
                    halt.append(Halt(f"recipient errors {failed}/{len(recent)} over the last results", result.errcode))
            if halt:
                stop.set()

        def record(result: Result) -> None:
            results.append(result)
            unwritten.append(result)

        async def one(job: Job) -> None:
            async with gate:
                if stop.is_set():
                    record(Result(job.delivery_id, job.openid, Outcome.RELEASED))
                    return
                await self.limiter.acquire()
                if stop.is_set():
                    record(Result(job.delivery_id, job.openid, Outcome.RELEASED))
                    return
                if not await ensure_started(job):
                    return  # our lease ran out and another worker took it: theirs to send and record
                answer = await self.messenger.send(job.openid, content, scene=job.scene)
                result = Result(
                    job.delivery_id, job.openid, answer.outcome, answer.errcode, answer.errmsg, answer.msgid
                )
                record(result)
                decide(result)
            await write_back()

        async def watch_others() -> None:
            """Notice a pause or halt decided elsewhere, and keep the lease on this batch alive."""
            loop = asyncio.get_running_loop()
            renewed = loop.time()
            while not stop.is_set():
                await asyncio.sleep(self.config.state_check_seconds)
                if await self.store.run_state(campaign_id) != RunState.SENDING:
                    stop.set()
                if loop.time() - renewed > self.config.lease_seconds / 3:
                    renewed = loop.time()
                    await self.store.renew_lease(
                        campaign_id, [j.delivery_id for j in jobs], lease_seconds=self.config.lease_seconds
                    )

        watcher = asyncio.create_task(watch_others())
        try:
            await asyncio.gather(*(one(job) for job in jobs))
        finally:
            stop.set()
            watcher.cancel()
        await write_back(force=True)
        return results, (halt[0] if halt else None)
