"""The queue's sending task. A message only wakes a worker process, which runs the engine for one campaign;
the deliveries table, not the queue, says what is left (a lost message loses nothing: see revive_stalled)."""

from __future__ import annotations

import asyncio
import logging

from huey.contrib.djhuey import db_task

from wxnotify.campaigns.sending.runner import run_campaign

log = logging.getLogger(__name__)


@db_task()
def send_campaign(campaign_id: int) -> str:
    report = asyncio.run(run_campaign(campaign_id))
    log.info("campaign %s: worker finished (%s, %s attempted)", campaign_id, report.final_state, report.attempted)
    return str(report.final_state)


def enqueue(campaign_id: int, workers: int) -> None:
    for _worker in range(workers):
        send_campaign(campaign_id)
