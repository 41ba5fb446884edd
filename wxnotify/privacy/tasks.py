"""The retention policy, nightly (thin: privacy.services.apply_retention)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from wxnotify.privacy import services

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="41", hour="3"))
def apply_retention() -> None:
    done = services.apply_retention()
    log.info("retention: %(erased_people)s people erased, %(emptied_messages)s messages emptied", done)
