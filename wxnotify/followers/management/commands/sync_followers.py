"""`manage.py sync_followers [APPID ...]`: page through WeChat's follower list and update ours."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wechat.client import WeChatClient
from wechat.errors import WeChatError
from wxnotify.accounts.models import OfficialAccount
from wxnotify.accounts.wechat import account_api
from wxnotify.followers.services import SyncResult, sync_followers


async def follower_pages(client: WeChatClient) -> AsyncIterator[list[str]]:
    next_openid = ""
    while True:
        page = await client.get_followers(next_openid=next_openid)
        openids = list((page.get("data") or {}).get("openid", []))
        if openids:
            yield openids
        next_openid = str(page.get("next_openid") or "")
        if not next_openid or not openids:
            return


async def sync_account(account: OfficialAccount) -> SyncResult:
    async with account_api(account) as api:
        return await sync_followers(account=account, pages=follower_pages(api.client))


class Command(BaseCommand):
    help = "Sync followers from WeChat's user/get list (all active accounts, or those given)."

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
                result = asyncio.run(sync_account(account))
            except WeChatError as error:
                raise CommandError(f"{account.appid}: {error}") from None
            self.stdout.write(
                f"{account.appid}: listed {result.listed}, added {result.added}, "
                f"refollowed {result.refollowed}, marked unfollowed {result.missing}"
            )
