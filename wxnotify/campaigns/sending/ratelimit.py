"""Per-account send rates: in-process for one worker, Redis for all workers of all machines."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class TokenBucket:
    """`rate` sends per second with bursts of up to `burst`, for every engine of one process.

    Engines run in threads, each with its own event loop, so the bucket is guarded by a thread lock and
    never awaits while holding it: a caller reserves its token (the balance may go negative — a queue of
    reservations) and sleeps on its own loop until the token is due."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next token; how many seconds until it is due."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def hold_for(self, seconds: float) -> None:
        """The next token is due in `seconds` at the earliest (reservations already made keep theirs)."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens = min(self.tokens, -seconds * self.rate)

    async def hold(self, seconds: float) -> None:
        self.hold_for(seconds)


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def process_bucket(key: str, rate: float) -> TokenBucket:
    """The one bucket of this process for `key` (an account): WeChat counts per AppID, so two engines of one
    send (or two sends of one account) in this process share it. A changed rate starts a new bucket."""
    with _buckets_lock:
        bucket = _buckets.get(key)
        if bucket is None or bucket.rate != rate:
            bucket = _buckets[key] = TokenBucket(rate, burst=max(1, int(rate // 10)))
        return bucket


# GCRA over Redis: the key holds the theoretical arrival time (TAT) of the next send, in microseconds of the
# Redis server's clock (one clock for every worker of every machine). A call reserves `count` consecutive
# slots `interval` apart and answers when the first is due and what time it is now.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local next = tat + count * interval
redis.call('SET', KEYS[1], string.format('%.3f', next), 'PX', math.floor((next - now) / 1000) + 60000)
return {string.format('%.0f', tat), string.format('%.0f', now)}
"""


# A hold: the TAT moves to at least `seconds` from the server's now, for every worker at once.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = now + tonumber(ARGV[1])
if tat < until_ then
  redis.call('SET', KEYS[1], string.format('%.3f', until_), 'PX', math.floor((until_ - now) / 1000) + 60000)
end
return 1
"""


class RedisRateLimiter:
    """At most `rate` sends per second for one account across every worker of every machine, evenly spaced
    (no burst at the turn of a second, as a counter per second would allow: up to twice the rate for a
    moment, and a tenth too many over ten seconds).

    A limiter reserves slots in small blocks (a 200th of the rate) so a fast send asks Redis a few hundred
    times a second, not once per request; each sender waits for its own slot. A worker that dies holding a
    block wastes at most that block. The key expires a minute after the last reserved slot.
    """

    def __init__(self, redis: Any, key: str, rate: int, *, outage_seconds: float = 120.0) -> None:
        self.redis = redis  # redis.asyncio.Redis
        self.outage_seconds = outage_seconds
        self.key = key
        self.rate = rate
        self.interval_us = 1_000_000 / rate
        self.block = max(1, rate // 200)
        self.last_window = 0  # the second (Redis's clock) the last send's slot was in (for tests and logs)
        self._slots: list[float] = []  # reserved slots, as local monotonic times, soonest last
        self._server_offset = 0.0  # Redis clock − local monotonic clock, in seconds
        self._lock = asyncio.Lock()  # one engine's senders ask Redis one at a time
        self._script = redis.register_script(_RESERVE)
        self._hold = redis.register_script(_HOLD)

    async def acquire(self) -> None:
        async with self._lock:
            if not self._slots:
                first, now = await self._ask(self._script, [self.interval_us, self.block])
                local = time.monotonic()
                self._server_offset = int(now) / 1e6 - local
                start = local + (int(first) - int(now)) / 1e6
                self._slots = [start + i * self.interval_us / 1e6 for i in reversed(range(self.block))]
            due = self._slots.pop()
        self.last_window = int(due + self._server_offset)
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def hold(self, seconds: float) -> None:
        """Every worker's next slot is `seconds` away at the earliest; this one's reserved block is dropped."""
        async with self._lock:
            self._slots = []
            await self._ask(self._hold, [int(seconds * 1_000_000)])

    async def _ask(self, script: Any, args: list[Any]) -> Any:
        """Run a script, waiting out Redis going away (a restart, a failover) for up to `outage_seconds`:
        meanwhile nobody sends — sending without the shared limit could exceed the account's rate. A restarted
        Redis has lost the key: the next reservation starts afresh, which is only as early as now."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        deadline = time.monotonic() + self.outage_seconds
        wait = 0.25
        while True:
            try:
                return await script(keys=[self.key], args=args)
            except (RedisConnectionError, RedisTimeoutError) as error:
                if time.monotonic() >= deadline:
                    raise
                log.warning("Redis unreachable (%s): the send waits %.1f s for its rate limit", error, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 5.0)
