"""Queued work of campaigns, thin: the sending task (defined with the queue wiring) and the minute task."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from wxnotify.campaigns import services
from wxnotify.campaigns.queue import send_campaign

__all__ = ["send_campaign", "start_due_campaigns"]


@db_periodic_task(crontab(minute="*"))
def start_due_campaigns() -> None:
    """Scheduled sends start here (no far-future delays sit in the queue); see services.run_minute."""
    services.run_minute()
