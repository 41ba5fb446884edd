"""`manage.py sync_templates [APPID ...]`: fetch the accounts' subscription templates from WeChat."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from wxnotify.accounts.commands import PerAccountCommand
from wxnotify.accounts.models import OfficialAccount
from wxnotify.subscriptions.services import TemplateSyncReport
from wxnotify.subscriptions.wechat_sync import sync_templates


class Command(PerAccountCommand):
    help = "Sync subscription-notification templates from WeChat (all active accounts, or those given)."

    def run(self, account: OfficialAccount) -> Coroutine[Any, Any, TemplateSyncReport]:
        return sync_templates(account)

    def describe(self, report: TemplateSyncReport) -> str:
        return (
            f"added {len(report.added)}, changed {len(report.changed)}, "
            f"deleted upstream {len(report.deleted)}, unchanged {report.unchanged}"
        )
