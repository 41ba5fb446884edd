"""Refused pushes: a concise, rate-limited log line and a count per account and reason.

A flood of forged pushes must neither fill the log (the demo's reached 74,560 lines in one hostile
run) nor cost a database write each: counts are kept in memory and written once every few seconds
by a background timer (`WXNOTIFY_REFUSAL_FLUSH_SECONDS`; 0 writes at once, as the tests do). What a
process holds when it is killed is lost — a few seconds of a statistic, never a message.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.http import HttpResponse

from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.models import Refusal, RefusedPushes
from wxnotify.console.logs import RateLimitedLog

log = logging.getLogger(__name__)
_log = RateLimitedLog(log)

# 403: the push does not prove it comes from WeChat (or proves it is a replay); 400: the body is bad.
FORBIDDEN = frozenset(
    {
        Refusal.BAD_SIGNATURE,
        Refusal.STALE_TIMESTAMP,
        Refusal.REPLAYED_NONCE,
        Refusal.NOT_ENCRYPTED,
        Refusal.BAD_MSG_SIGNATURE,
    }
)

Key = tuple[int, str, datetime]  # (account id, reason, minute)


class _Counts:
    """Counts not yet written, shared by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[Key] = Counter()
        self._timer: threading.Timer | None = None

    def add(self, account_id: int, reason: Refusal) -> None:
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        delay = settings.WXNOTIFY_REFUSAL_FLUSH_SECONDS
        with self._lock:
            self._pending[(account_id, str(reason), minute)] += 1
            if delay > 0 and self._timer is None:
                self._timer = threading.Timer(delay, self._flush_in_background)
                self._timer.daemon = True
                self._timer.start()
        if delay <= 0:
            self.flush()

    def _flush_in_background(self) -> None:
        try:
            self.flush()
        finally:
            connection.close()  # this thread's own connection

    def flush(self) -> None:
        with self._lock:
            pending, self._pending, self._timer = self._pending, Counter(), None
        if not pending:
            return
        try:
            _write(pending)
        except DatabaseError as error:  # busy or down: keep the counts for the next flush
            log.warning("refused-push counts not written yet (%s): %s", type(error).__name__, error)
            with self._lock:
                self._pending.update(pending)


def _write(pending: Counter[Key]) -> None:
    with transaction.atomic():
        for (account_id, reason, minute), n in pending.items():
            rows = RefusedPushes.objects.filter(account_id=account_id, reason=reason, minute=minute)
            if rows.update(count=F("count") + n):
                continue
            try:
                with transaction.atomic():
                    RefusedPushes.objects.create(account_id=account_id, reason=reason, minute=minute, count=n)
            except IntegrityError:  # another process created the row in between
                rows.update(count=F("count") + n)


counts = _Counts()


def refuse(account: OfficialAccount, reason: Refusal, detail: str = "") -> HttpResponse:
    """The answer to a refused push: 403 or 400 with a one-line reason, counted and logged (rate-limited)."""
    status = 403 if reason in FORBIDDEN else 400
    counts.add(account.pk, reason)
    _log.warning(
        (account.pk, reason),
        "callback for %s refused (%s %s)%s",
        account.appid,
        status,
        reason.value,
        f": {detail}" if detail else "",
    )
    text = str(reason.label) + (f": {detail}" if detail else "")
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own 4xx line would repeat ours
    return response
