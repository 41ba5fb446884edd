"""Queued work of campaigns, thin: the sending task (defined with the queue wiring), the minute task, and
the look a worker takes once it has started (it may replace one that died mid-send)."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from wxnotify.campaigns import services
from wxnotify.campaigns.queue import send_campaign

__all__ = ["look_after_sends", "send_campaign", "start_due_campaigns", "when_a_worker_starts"]

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def start_due_campaigns() -> None:
    """Scheduled sends start here (no far-future delays sit in the queue); see services.run_minute."""
    services.run_minute()


@db_task()
def look_after_sends() -> None:
    services.look_after_sends()


_looked = threading.Event()  # a process's worker threads each run the startup hook: one look is enough


@on_startup()
def when_a_worker_starts() -> None:
    """A worker process restarted after a crash (kill -9, out of memory, a redeploy) replaces one whose send
    stands still until someone notices: look once the dead one's leases have run out, instead of waiting for
    the minute task to see a lease's silence (up to a minute more)."""
    if _looked.is_set():
        return
    _looked.set()
    try:
        look_after_sends.schedule(delay=settings.WXNOTIFY_SEND_LEASE_SECONDS + 2)
    except Exception:  # the queue is not up yet: the minute task still looks
        log.warning("a starting worker could not schedule its look at the sends", exc_info=True)
