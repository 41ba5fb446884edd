"""Riding out a database that went away for a moment — PostgreSQL restarted, a failover, the network —
instead of failing the work at the first refused statement.

Only errors of a connection that no longer answers are waited out; an error of a database that still
answers (a missing table, a constraint) is raised at once. What runs again must be one transaction whose
repetition is safe (each caller says why it is).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
R = TypeVar("R")


def through_outages(fn: Callable[..., R], *args: Any, seconds: float | None = None, **kwargs: Any) -> R:
    """`fn(*args, **kwargs)`, run again on a new connection while the database is unreachable, for up to
    `seconds` (WXNOTIFY_DB_OUTAGE_SECONDS by default); then its error is raised."""
    budget = settings.WXNOTIFY_DB_OUTAGE_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + budget
    wait = 0.25
    while True:
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError) as error:
            left = deadline - time.monotonic()
            if connection.is_usable() or left <= 0:
                raise
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            name = getattr(fn, "__name__", "an operation")
            log.warning("database unreachable (%s): %s again in %.2f s", reason, name, min(wait, left))
            connection.close()
            time.sleep(min(wait, left))
            wait = min(wait * 2, 5.0)
