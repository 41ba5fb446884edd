"""Queued sending work. The queue only wakes workers; the deliveries table says what is left."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from wxnotify.campaigns import selectors
from wxnotify.campaigns.models import Campaign
from wxnotify.campaigns.sending.django_store import QUIET_REASON, expire_leases, patiently
from wxnotify.campaigns.sending.runner import run_campaign

log = logging.getLogger(__name__)


@db_task()
def send_campaign(campaign_id: int) -> str:
    report = asyncio.run(run_campaign(campaign_id))
    log.info("campaign %s: worker finished (%s, %s attempted)", campaign_id, report.final_state, report.attempted)
    return str(report.final_state)


def _resume(campaign: Campaign, why: str) -> None:
    """One send that cannot go on (its content changed and awaits a second approval, …) must not keep
    the minute task from the others: it stays paused, and its page says why."""
    from wxnotify.campaigns import services

    try:
        services.resume(campaign=campaign, user=None)
    except services.CampaignError as error:
        log.warning("campaign %s stays paused after %s: %s", campaign.pk, why, error)


@db_periodic_task(crontab(minute="*"))
def start_due_campaigns() -> None:
    """Scheduled sends start here (no far-future delays sit in the queue); sends paused by quiet hours or
    by the daily quota go on when those end; lost leases become unknown; sends nobody works on are revived."""
    from wxnotify.campaigns import services

    # On SQLite a busy send can hold the write lock past busy_timeout: retried whole, like the store's writes.
    patiently(expire_leases)()
    patiently(services.revive_stalled)()
    now = timezone.now()
    for campaign in Campaign.objects.filter(state=Campaign.State.PAUSED, stop_reason=QUIET_REASON).select_related(
        "account"
    ):
        if not campaign.account.in_quiet_hours(now):
            _resume(campaign, "quiet hours ended")
    for campaign in selectors.stopped_by_yesterdays_quota(now=now):
        _resume(campaign, "a new day's quota")
    # "N minutes before the activity" follows the activity when its time is changed after scheduling.
    relative = Campaign.objects.filter(
        state=Campaign.State.SCHEDULED, minutes_before_start__isnull=False, activity__isnull=False
    ).select_related("activity")
    for campaign in relative:
        assert campaign.activity is not None and campaign.minutes_before_start is not None
        at = campaign.activity.starts_at - timedelta(minutes=campaign.minutes_before_start)
        if at != campaign.scheduled_at:
            Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=at)
            services.audit(campaign, None, "reschedule", at=at.isoformat())
    for campaign in Campaign.objects.filter(state=Campaign.State.SCHEDULED, scheduled_at__lte=now):
        try:
            services.start(campaign=campaign, user=None)
        except services.CampaignError as error:
            log.warning("scheduled campaign %s could not start: %s", campaign.pk, error)
