"""Queued template work: a nightly sync notices templates deleted or changed in WeChat's backend."""

from __future__ import annotations

import asyncio
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from wechat.errors import WeChatError
from wxnotify.accounts.models import OfficialAccount
from wxnotify.subscriptions.wechat_sync import sync_templates

log = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="3", minute="10"))
def nightly_template_sync() -> None:
    for account in OfficialAccount.objects.filter(is_active=True):
        try:
            report = asyncio.run(sync_templates(account))
        except WeChatError as error:
            log.warning("template sync for %s failed: %s", account.appid, error)
            continue
        if report.deleted or report.changed:
            log.warning(
                "templates of %s changed upstream: deleted %s, changed %s",
                account.appid,
                report.deleted,
                report.changed,
            )
