"""Logging that an attacker cannot turn into a flood.

`RateLimitedLog` writes at most one line per key and period, and says how many it held back.
`QuietClientErrors` is a logging filter for Django's request loggers: a 4xx is the client's fault,
worth one line without a traceback (a `PermissionDenied` wrote a full one per 403), and the same
kind of 4xx on the same path prefix at most once a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable
from typing import Any


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, *, period: float = 60.0) -> None:
        self.logger = logger
        self.period = period
        self._lock = threading.Lock()
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def allow(self, key: Hashable) -> int | None:
        """None when `key` was logged within the period (and counts it as held back); otherwise how many
        lines of this key were held back since its last one."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.period) < self.period:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._last[key] = now
            if len(self._last) > 10_000:  # keys are bounded by accounts × reasons; this only guards memory
                self._last = {key: now}
            return self._held.pop(key, 0)

    def reset(self) -> None:
        with self._lock:
            self._last.clear()
            self._held.clear()

    def warning(self, key: Hashable, message: str, *args: Any) -> None:
        held = self.allow(key)
        if held is None:
            return
        if held:
            message += " (and %d more like it in the last %d s)"
            args = (*args, held, int(self.period))
        self.logger.warning(message, *args)


_client_errors = RateLimitedLog(logging.getLogger("django.request"))


class QuietClientErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if not isinstance(status, int) or status >= 500:
            return True  # a server error keeps its traceback, always
        record.exc_info = None
        record.exc_text = None
        request = getattr(record, "request", None)
        path = str(getattr(request, "path", ""))
        head = "/".join(path.split("/")[:2])
        held = _client_errors.allow((record.name, status, head))
        if held is None:
            return False
        if held:
            note = f" (and {held} more {status}s under {head}/ in the last minute)"
            record.msg = str(record.msg) + note.replace("%", "%%")
        return True
