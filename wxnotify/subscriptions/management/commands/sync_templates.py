"""`manage.py sync_templates [APPID ...]`: fetch the accounts' subscription templates from WeChat."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wechat.errors import WeChatError
from wxnotify.accounts.models import OfficialAccount
from wxnotify.subscriptions.wechat_sync import sync_templates


class Command(BaseCommand):
    help = "Sync subscription-notification templates from WeChat (all active accounts, or those given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("appids", nargs="*")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = OfficialAccount.objects.filter(is_active=True)
        if options["appids"]:
            accounts = accounts.filter(appid__in=options["appids"])
        if not accounts.exists():
            raise CommandError("no such active account")
        for account in accounts:
            try:
                report = asyncio.run(sync_templates(account))
            except WeChatError as error:
                raise CommandError(f"{account.appid}: {error}") from None
            self.stdout.write(
                f"{account.appid}: added {len(report.added)}, changed {len(report.changed)}, "
                f"deleted upstream {len(report.deleted)}, unchanged {report.unchanged}"
            )
