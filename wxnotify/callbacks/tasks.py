"""Housekeeping of the callback endpoint's own tables: the replay cache and the refusal counts."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from wxnotify.callbacks import services


@db_periodic_task(crontab(minute="*/5"))
def prune_callback_tables() -> None:
    services.prune_nonces()
    services.prune_refusal_counts()
