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

    INCR on the key of the current second; past the limit, wait for the next second. The key expires by
    itself, so a dead worker leaves nothing behind.
    """

    def __init__(self, redis: Any, key: str, rate: int) -> None:
        self.redis = redis  # redis.asyncio.Redis
        self.key = key
        self.rate = rate
        self.last_window = 0  # the second the last send was counted in (for tests and logs)

    async def acquire(self) -> None:
        while True:
            now = time.time()
            second = int(now)
            key = f"{self.key}:{second}"
            async with self.redis.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(key).expire(key, 5).execute()
            if count <= self.rate:
                self.last_window = second
                return
            await asyncio.sleep(second + 1 - now + 0.001)
