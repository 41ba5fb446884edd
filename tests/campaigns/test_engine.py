"""The engine against the in-memory store and messenger: exactly once, halting, strict mode,
transient retries, unknown outcomes, several engines on one campaign."""

import asyncio
import time

import pytest

from wxnotify.campaigns.sending.engine import Engine, EngineConfig
from wxnotify.campaigns.sending.memory import MemoryCampaign, ScriptedMessenger, Unlimited
from wxnotify.campaigns.sending.ports import Content, Outcome, Policy, RunState, SendAnswer
from wxnotify.campaigns.sending.ratelimit import TokenBucket

CONTENT = Content("TPL", {"thing1": "九价HPV疫苗"})
FAST = EngineConfig(
    batch_size=50,
    concurrency=8,
    idle_seconds=0.005,
    state_check_seconds=0.005,
    flush_seconds=0.01,
    backoff_seconds=0.01,
)


def people(n: int) -> list[str]:
    return [f"o{i:05d}" for i in range(n)]


def run(campaign, messenger, *, workers=1, config=FAST, limiter=None):
    async def main():
        engines = [Engine(campaign.store(f"w{i}"), messenger, limiter or Unlimited(), config) for i in range(workers)]
        return await asyncio.gather(*(e.run() for e in engines))

    return asyncio.run(main())


def test_everyone_gets_it_exactly_once_and_the_campaign_completes():
    store = MemoryCampaign.with_recipients(people(500), CONTENT)
    messenger = ScriptedMessenger()
    [report] = run(store, messenger)
    assert report.final_state == RunState.COMPLETED
    assert store.by_state() == {"sent": 500}
    assert set(messenger.sent.values()) == {1} and len(messenger.sent) == 500


def test_four_engines_share_one_campaign_without_duplicates():
    store = MemoryCampaign.with_recipients(people(2000), CONTENT)
    messenger = ScriptedMessenger(delay=0.001)
    reports = run(store, messenger, workers=4)
    assert {r.final_state for r in reports} == {RunState.COMPLETED}
    assert sum(messenger.sent.values()) == 2000 and max(messenger.sent.values()) == 1
    assert all(r.attempted > 0 for r in reports)  # the work really was shared


def test_no_credit_means_skipped_without_calling_wechat():
    store = MemoryCampaign.with_recipients(people(10), CONTENT)
    for openid in people(10)[:4]:
        store.ledger.credits[openid] = 0
    messenger = ScriptedMessenger()
    run(store, messenger)
    assert store.by_state() == {"sent": 6, "skipped": 4}
    assert messenger.calls == 6


def test_a_campaign_wide_error_halts_within_the_concurrency_and_resume_sends_the_rest_once():
    broken = {"on": True}

    def script(openid, n):
        if broken["on"] and n >= 40:
            return SendAnswer(Outcome.CAMPAIGN, 47003, "argument invalid! data.thing1.value invalid")
        return SendAnswer(Outcome.SENT, 0, "ok", 10_000 + n)

    store = MemoryCampaign.with_recipients(people(1000), CONTENT)
    messenger = ScriptedMessenger(script=script, delay=0.002)
    [report] = run(store, messenger)
    assert report.final_state == RunState.HALTED and "47003" in store.halt_reason
    calls_after_first_error = messenger.calls - 40
    assert calls_after_first_error <= FAST.concurrency  # only what was already in flight
    assert store.by_state()["pending"] > 900  # the rest waits, untouched
    broken["on"] = False  # the operator fixed the content
    store.state = RunState.SENDING
    run(store, messenger)
    assert store.by_state() == {"sent": 1000}
    assert max(messenger.sent.values()) == 1


def test_strict_mode_halts_on_the_first_recipient_failure():
    def script(openid, n):
        return SendAnswer(Outcome.RECIPIENT, 43101, "user refuse") if n == 5 else SendAnswer(Outcome.SENT, 0, "ok", n)

    store = MemoryCampaign.with_recipients(people(300), CONTENT, policy=Policy(strict=True))
    messenger = ScriptedMessenger(script=script, delay=0.002)
    [report] = run(store, messenger)
    assert report.final_state == RunState.HALTED and store.halt_reason.startswith("strict mode: 43101")
    assert messenger.calls <= 5 + FAST.concurrency


def test_recipient_errors_alone_go_on_until_their_rate_is_too_high():
    def few(openid, n):
        return SendAnswer(Outcome.RECIPIENT, 43101, "no") if n % 10 == 0 else SendAnswer(Outcome.SENT, 0, "ok", n)

    store = MemoryCampaign.with_recipients(people(400), CONTENT)
    run(store, ScriptedMessenger(script=few))
    assert store.state == RunState.COMPLETED and store.by_state() == {"sent": 360, "failed": 40}

    def many(openid, n):
        return SendAnswer(Outcome.RECIPIENT, 40003, "bad") if n % 2 == 0 else SendAnswer(Outcome.SENT, 0, "ok", n)

    store = MemoryCampaign.with_recipients(people(400), CONTENT)
    run(store, ScriptedMessenger(script=many))
    assert store.state == RunState.HALTED and "recipient errors" in store.halt_reason


def test_transient_errors_are_retried_with_backoff_and_then_succeed():
    tries = {}

    def script(openid, n):
        tries[openid] = tries.get(openid, 0) + 1
        if tries[openid] < 3:
            return SendAnswer(Outcome.TRANSIENT, -1, "system busy")
        return SendAnswer(Outcome.SENT, 0, "ok", n)

    store = MemoryCampaign.with_recipients(people(30), CONTENT)
    run(store, ScriptedMessenger(script=script))
    assert store.by_state() == {"sent": 30} and set(tries.values()) == {3}


def test_transient_errors_give_up_after_the_policy_s_attempts():
    store = MemoryCampaign.with_recipients(people(5), CONTENT, policy=Policy(max_transient_attempts=3))
    messenger = ScriptedMessenger(script=lambda o, n: SendAnswer(Outcome.TRANSIENT, 43108, "concurrent"))
    run(store, messenger)
    assert store.by_state() == {"failed": 5} and messenger.calls == 15


def test_an_unknown_outcome_is_never_resent():
    def script(o, n):
        return SendAnswer(Outcome.UNKNOWN, None, "timeout") if o == "o00003" else SendAnswer(Outcome.SENT, 0, "ok", n)

    store = MemoryCampaign.with_recipients(people(10), CONTENT)
    messenger = ScriptedMessenger(script=script)
    [report] = run(store, messenger)
    assert report.final_state == RunState.COMPLETED
    assert store.rows[4].state == "unknown" and messenger.calls == 10


def test_daily_quota_pauses_instead_of_halting():
    def script(o, n):
        return (
            SendAnswer(Outcome.QUOTA, 45009, "reach max api daily quota limit")
            if n > 20
            else SendAnswer(Outcome.SENT, 0, "ok", n)
        )

    store = MemoryCampaign.with_recipients(people(100), CONTENT)
    [report] = run(store, ScriptedMessenger(script=script, delay=0.001))
    assert report.final_state == RunState.PAUSED and "45009" in store.halt_reason
    assert store.by_state()["sent"] == 20 and "failed" not in store.by_state()


def test_a_pause_by_the_operator_stops_every_engine_and_loses_nobody():
    store = MemoryCampaign.with_recipients(people(3000), CONTENT)
    messenger = ScriptedMessenger(delay=0.002)

    async def main():
        engines = [Engine(store.store(f"w{i}"), messenger, Unlimited(), FAST) for i in range(3)]
        tasks = [asyncio.create_task(e.run()) for e in engines]
        await asyncio.sleep(0.05)
        store.state = RunState.PAUSED
        return await asyncio.gather(*tasks)

    reports = asyncio.run(main())
    assert {r.final_state for r in reports} == {RunState.PAUSED}
    states = store.by_state()
    assert states["sent"] == sum(messenger.sent.values()) and "sending" not in states
    assert states["sent"] + states["pending"] == 3000
    store.state = RunState.SENDING
    run(store, messenger)
    assert store.by_state() == {"sent": 3000} and max(messenger.sent.values()) == 1


def test_concurrency_is_bounded():
    store = MemoryCampaign.with_recipients(people(400), CONTENT)
    messenger = ScriptedMessenger(delay=0.003)
    run(store, messenger, workers=1)
    assert messenger.max_in_flight == FAST.concurrency


def test_the_token_bucket_keeps_the_rate():
    store = MemoryCampaign.with_recipients(people(60), CONTENT)
    started = time.monotonic()
    run(store, ScriptedMessenger(), limiter=TokenBucket(rate=200, burst=10))
    elapsed = time.monotonic() - started
    assert elapsed >= (60 - 10) / 200 * 0.9  # 50 tokens beyond the burst at 200/s
    assert store.by_state() == {"sent": 60}


def test_wechats_minute_quota_holds_every_sender_until_the_next_minute():
    """WeChat allows 30 a minute and counts each request in the minute it arrived. The first refusal holds
    every sender (not only the refused one) until the minute is over: the refusals are what was already on
    its way (at most the concurrency), not one per person left; everyone is still reached exactly once."""
    from datetime import UTC, datetime, timedelta

    from wechat.errors import MINUTE_QUOTA

    start = time.monotonic()
    base = datetime(2026, 11, 30, 4, 0, 59, tzinfo=UTC)  # one second before the minute turns

    def clock() -> datetime:
        return base + timedelta(seconds=time.monotonic() - start)

    per_minute: dict[int, int] = {}
    refused = []

    def wechat(openid: str, n: int) -> SendAnswer:
        minute = clock().minute
        if per_minute.get(minute, 0) >= 30:
            refused.append(openid)
            return SendAnswer(Outcome.TRANSIENT, MINUTE_QUOTA, "api minute-quota reach limit")
        per_minute[minute] = per_minute.get(minute, 0) + 1
        return SendAnswer(Outcome.SENT, 0, "ok", 1000 + n)

    store = MemoryCampaign.with_recipients(people(50), CONTENT)
    messenger = ScriptedMessenger(script=wechat, delay=0.002)
    config = EngineConfig(
        batch_size=10, concurrency=4, idle_seconds=0.005, state_check_seconds=0.005, flush_seconds=0.01, clock=clock
    )
    [report] = run(store, messenger, config=config, limiter=TokenBucket(rate=1000, burst=1))
    assert report.final_state == RunState.COMPLETED and store.by_state() == {"sent": 50}
    assert set(messenger.sent.values()) == {1}
    assert per_minute == {0: 30, 1: 20}
    assert 1 <= len(refused) <= config.concurrency


def test_engines_of_one_process_share_the_accounts_rate():
    """Each engine had a bucket of its own: a send split over two engines went at twice the account's rate."""
    import threading

    from wxnotify.campaigns.sending.ratelimit import process_bucket

    first, second = process_bucket("wxshared", 100.0), process_bucket("wxshared", 100.0)
    assert first is second and process_bucket("wxother", 100.0) is not first
    stamps: list[float] = []

    def engine() -> None:
        async def take() -> None:
            for _ in range(100):
                await process_bucket("wxshared", 100.0).acquire()
                stamps.append(time.monotonic())

        asyncio.run(take())  # each engine on its own thread and event loop, as in a worker process

    threads = [threading.Thread(target=engine) for _ in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 200
    assert max(stamps) - started >= (200 - 10) / 100 * 0.9  # 190 tokens beyond the burst at 100/s, together


def test_a_halt_decided_elsewhere_releases_this_engine_s_unstarted_jobs():
    """Another engine (or the operator) halted the send: this one stops within its state check and gives back
    what it had claimed but not sent."""
    store = MemoryCampaign.with_recipients(people(200), CONTENT)
    messenger = ScriptedMessenger(delay=0.01)

    async def main():
        engine = Engine(
            store.store(),
            messenger,
            Unlimited(),
            EngineConfig(batch_size=200, concurrency=4, state_check_seconds=0.005),
        )
        task = asyncio.create_task(engine.run())
        await asyncio.sleep(0.03)
        store.state = RunState.HALTED
        return await task

    report = asyncio.run(main())
    assert report.final_state == RunState.HALTED
    assert messenger.calls < 40 and store.by_state()["pending"] == 200 - messenger.calls


def test_a_crash_leaves_only_started_deliveries_unknown():
    """Claimed rows are marked started in chunks just before their requests and answers are written back
    in chunks: after a lease expiry the never-started ones are queued again; unknown are at most those in
    flight, two start chunks, and the answers not yet written back (one write chunk)."""
    store = MemoryCampaign.with_recipients(people(400), CONTENT)
    messenger = ScriptedMessenger(delay=0.05)

    async def main():
        config = EngineConfig(batch_size=200, concurrency=8, start_chunk=2, write_chunk=8, flush_seconds=10)
        engine = Engine(store.store("doomed"), messenger, Unlimited(), config)
        task = asyncio.create_task(engine.run())
        while store.by_state()["sent"] < 8:  # answers are written back while the batch goes on …
            await asyncio.sleep(0.005)
        task.cancel()  # … then the process dies mid-batch: nothing more is written back

    asyncio.run(main())
    store.crash()  # every lease runs out
    states = store.by_state()
    assert states["pending"] > 0  # claimed but never started: queued again, not unknown
    assert states["unknown"] <= 8 + 2 * 2 + 8
    assert states["sent"] + states["unknown"] + states["pending"] == 400
    assert store.started_marks >= 1


def test_a_long_batch_keeps_its_lease():
    store = MemoryCampaign.with_recipients(people(60), CONTENT)
    config = EngineConfig(batch_size=60, concurrency=2, lease_seconds=0.06, state_check_seconds=0.005)
    run(store, ScriptedMessenger(delay=0.01), config=config)  # 60 × 10 ms / 2 = 0.3 s: five leases long
    assert store.renewals >= 3 and store.by_state() == {"sent": 60}


def test_a_store_write_that_finds_sqlite_locked_is_retried_whole_not_crashing_the_worker():
    from django.db import OperationalError

    from wxnotify.campaigns.sending import django_store

    calls = []

    @django_store.patiently
    def write(n):
        calls.append(n)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return n * 2

    assert write(21) == 42 and calls == [21, 21, 21]

    @django_store.patiently
    def broken():
        calls.append("broken")
        raise OperationalError("no such table: campaigns_delivery")

    calls.clear()
    with pytest.raises(OperationalError, match="no such table"):
        broken()
    assert calls == ["broken"]  # anything but a lock is not retried


def test_the_redis_rate_limit_holds_across_workers():
    """Two workers (two limiters, two connections) share one account's rate through Redis: no second
    window holds more sends than the rate, whoever sent them."""
    import os
    import time

    from tests.conftest import skip_unless_available
    from wxnotify.campaigns.sending.ratelimit import RedisRateLimiter

    url = os.environ.get("REDIS_URL", "")
    skip_unless_available(bool(url), "Redis (REDIS_URL)")
    import redis.asyncio as aioredis

    windows: list[int] = []  # the second each send was counted in

    async def worker(key: str, n: int) -> None:
        client = aioredis.from_url(url)
        limiter = RedisRateLimiter(client, key, rate=40)
        try:
            for _ in range(n):
                await limiter.acquire()
                windows.append(limiter.last_window)
        finally:
            await client.aclose()

    async def main() -> None:
        key = f"wxnotify:test-rate:{os.getpid()}:{time.time()}"
        await asyncio.gather(worker(key, 50), worker(key, 50))

    asyncio.run(main())
    per_second: dict[int, int] = {}
    for second in windows:
        per_second[second] = per_second.get(second, 0) + 1
    assert len(windows) == 100 and max(per_second.values()) <= 40
    assert len(per_second) >= 3  # 100 sends at 40/s need at least three seconds


def test_a_hold_in_redis_holds_every_worker_of_the_account():
    """One worker meets WeChat's minute quota and holds the account: another worker's next send waits too."""
    import os

    from tests.conftest import skip_unless_available
    from wxnotify.campaigns.sending.ratelimit import RedisRateLimiter

    url = os.environ.get("REDIS_URL", "")
    skip_unless_available(bool(url), "Redis (REDIS_URL)")
    import redis.asyncio as aioredis

    async def main() -> float:
        key = f"wxnotify:test-hold:{os.getpid()}:{time.time()}"
        one, two = aioredis.from_url(url), aioredis.from_url(url)
        try:
            first, second = RedisRateLimiter(one, key, rate=1000), RedisRateLimiter(two, key, rate=1000)
            await second.acquire()  # the other worker has a block of slots reserved before the hold
            await first.hold(0.8)
            began = time.monotonic()
            for _ in range(second.block + 1):  # what it had reserved goes, then it waits for the hold
                await second.acquire()
            return time.monotonic() - began
        finally:
            await one.aclose()
            await two.aclose()

    assert asyncio.run(main()) >= 0.7


def test_the_redis_rate_limit_waits_for_redis_to_come_back():
    """Redis restarted mid-send (its data gone: started without saving): the limiter waits for it instead of
    failing the send, and nobody sends meanwhile. A Redis server of the test's own, so nothing else notices."""
    import shutil
    import socket
    import subprocess

    from tests.conftest import skip_unless_available
    from wxnotify.campaigns.sending.ratelimit import RedisRateLimiter

    skip_unless_available(bool(shutil.which("redis-server")), "redis-server")
    import redis.asyncio as aioredis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def server() -> subprocess.Popen:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return process
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    first = server()
    second = None
    try:

        async def main() -> float:
            nonlocal second
            client = aioredis.from_url(f"redis://127.0.0.1:{port}/0")
            limiter = RedisRateLimiter(client, "wxnotify:rate:test", rate=200, outage_seconds=30)
            assert limiter.block == 1  # each send asks Redis for its slot
            try:
                await limiter.acquire()
                first.kill()  # gone, with everything it held
                first.wait()
                began = time.monotonic()
                waiting = asyncio.create_task(limiter.acquire())
                await asyncio.sleep(1.0)
                assert not waiting.done()  # nobody sends while the shared limit is unreachable
                second = server()
                await asyncio.wait_for(waiting, 20)
                return time.monotonic() - began
            finally:
                await client.aclose()

        assert asyncio.run(main()) >= 1.0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
