"""Queued follower work: a nightly sync repairs whatever events were missed during the day."""

from __future__ import annotations

import asyncio
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from wechat.errors import WeChatError
from wxnotify.accounts.models import OfficialAccount

log = logging.getLogger(__name__)


@db_task()
def sync_account_followers(account_id: int) -> None:
    from wxnotify.followers.management.commands.sync_followers import sync_account

    account = OfficialAccount.objects.get(pk=account_id, is_active=True)
    try:
        asyncio.run(sync_account(account))
    except WeChatError as error:
        log.warning("follower sync for %s failed: %s", account.appid, error)


@db_periodic_task(crontab(hour="3", minute="30"))
def nightly_follower_sync() -> None:
    for account_id in OfficialAccount.objects.filter(is_active=True).values_list("id", flat=True):
        sync_account_followers(account_id)
