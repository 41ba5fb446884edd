"""Per-account send rates: in-process for one worker, Redis for all workers of all machines."""

from __future__ import annotations

import asyncio
import time
from typing import Any


class TokenBucket:
    """`rate` sends per second with bursts of up to `burst`, for one process."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


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
