"""Per-account send rates: in-process for one worker, Redis for all workers of all machines."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any


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


class RedisWindowLimiter:
    """At most `rate` sends per second for one account across every worker: a counter per second in Redis.

    A limiter takes its sends in small blocks (INCRBY `block` on the key of the current second) and hands
    them out locally, so a fast send asks Redis a few hundred times a second, not once per request. A block
    that straddles the limit keeps only its share under it; a block not used up by the end of its second is
    lost, which undershoots by at most `block` − 1 per worker per second (a 200th of the rate). Past the
    limit, wait for the next second. The keys expire by themselves: a dead worker leaves nothing behind.
    """

    def __init__(self, redis: Any, key: str, rate: int) -> None:
        self.redis = redis  # redis.asyncio.Redis
        self.key = key
        self.rate = rate
        self.block = max(1, rate // 200)
        self.last_window = 0  # the second the last send was counted in (for tests and logs)
        self._window = -1  # the second our local allowance belongs to
        self._allowance = 0
        self._lock = asyncio.Lock()  # one engine's senders ask Redis one at a time

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.time()
                second = int(now)
                if self._window == second and self._allowance > 0:
                    self._allowance -= 1
                    self.last_window = second
                    return
                key = f"{self.key}:{second}"
                async with self.redis.pipeline(transaction=True) as pipe:
                    count, _ = await pipe.incrby(key, self.block).expire(key, 5).execute()
                granted = min(self.block, self.rate - (count - self.block))  # what of the block is under the rate
                if granted > 0:
                    self._window, self._allowance = second, granted - 1
                    self.last_window = second
                    return
                await asyncio.sleep(second + 1 - now + 0.001)
