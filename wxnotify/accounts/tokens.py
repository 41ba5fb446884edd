"""One access token (and one jsapi_ticket) per account, shared by every web and worker process.

The token lives in the database (encrypted). A process that needs a new one first wins a lease
with a conditional UPDATE on (generation, lease expired); losers wait for the winner's result.
No transaction is held while WeChat is called, so the same code works on SQLite and PostgreSQL,
and a process that dies mid-refresh only delays the next one until its lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from wechat.client import Token
from wxnotify.accounts.models import OfficialAccount, SharedCredential

log = logging.getLogger(__name__)

EXPIRY_MARGIN = timedelta(minutes=5)  # refresh this long before WeChat's expires_in runs out
LEASE = timedelta(seconds=30)
POLL = 0.05

# Fetches a fresh token; gets the value WeChat refused (or None when there is none yet).
Fetcher = Callable[[str | None], Awaitable[Token]]


@dataclass
class _Cached:
    value: str
    expires_at: datetime
    generation: int


class SharedCredentialSource:
    """A `wechat.client.TokenSource` backed by the SharedCredential row of (account, kind)."""

    def __init__(self, account: OfficialAccount, kind: str, fetch: Fetcher, *, lease: timedelta = LEASE) -> None:
        self.account = account
        self.kind = kind
        self._fetch = fetch
        self._lease = lease
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        cached = self._cached
        if cached and cached.expires_at - EXPIRY_MARGIN > timezone.now():
            return cached.value
        async with self._lock:
            return await self._obtain(stale=None)

    async def refresh(self, stale: str) -> str:
        async with self._lock:
            return await self._obtain(stale=stale)

    async def _row(self) -> SharedCredential:
        row, _ = await SharedCredential.objects.aget_or_create(account=self.account, kind=self.kind)
        return row

    def _usable(self, row: SharedCredential, stale: str | None) -> bool:
        return bool(
            row.value and row.expires_at and row.expires_at - EXPIRY_MARGIN > timezone.now() and row.value != stale
        )

    async def _obtain(self, *, stale: str | None) -> str:
        deadline = timezone.now() + self._lease * 2
        while True:
            row = await self._row()
            if self._usable(row, stale):
                assert row.expires_at is not None
                self._cached = _Cached(row.value, row.expires_at, row.generation)
                return row.value
            now = timezone.now()
            won = await SharedCredential.objects.filter(
                Q(refreshing_until__isnull=True) | Q(refreshing_until__lt=now),
                pk=row.pk,
                generation=row.generation,
            ).aupdate(refreshing_until=now + self._lease)
            if won:
                return await self._refresh(row, stale)
            if timezone.now() > deadline:
                raise TimeoutError(f"{self.kind} refresh for {self.account.appid} did not finish")
            await asyncio.sleep(POLL)  # another process is refreshing; its result will show up in the row

    async def _refresh(self, row: SharedCredential, stale: str | None) -> str:
        try:
            token = await self._fetch(stale or row.value or None)
        except BaseException:
            await SharedCredential.objects.filter(pk=row.pk).aupdate(refreshing_until=None)
            raise
        now = timezone.now()
        expires_at = now + timedelta(seconds=token.expires_in)
        # Saving through the model encrypts the value; the filter keeps a lease thief from being overwritten.
        row.value, row.expires_at, row.generation = token.value, expires_at, row.generation + 1
        row.refreshing_until, row.refreshed_at = None, now
        await row.asave(update_fields=["value", "expires_at", "generation", "refreshing_until", "refreshed_at"])
        log.info("%s refreshed for %s (generation %s)", self.kind, self.account.appid, row.generation)
        self._cached = _Cached(token.value, expires_at, row.generation)
        return token.value
