"""Shared shape of management commands that do one WeChat job per account (sync followers, templates)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wechat.errors import WeChatError
from wxnotify.accounts.models import OfficialAccount


class PerAccountCommand(BaseCommand):
    """Runs `run(account)` for every active account, or for the AppIDs given; prints `describe(result)`."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("appids", nargs="*")

    run: Callable[[OfficialAccount], Coroutine[Any, Any, Any]]  # each command says what it does for one account

    def describe(self, result: Any) -> str:
        return str(result)

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = OfficialAccount.objects.filter(is_active=True)
        if options["appids"]:
            accounts = accounts.filter(appid__in=options["appids"])
        if not accounts.exists():
            raise CommandError("no such active account")
        for account in accounts:
            try:
                result: Any = asyncio.run(self.run(account))
            except WeChatError as error:
                raise CommandError(f"{account.appid}: {error}") from None
            self.stdout.write(f"{account.appid}: {self.describe(result)}")
