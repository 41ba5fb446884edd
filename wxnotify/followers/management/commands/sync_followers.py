"""`manage.py sync_followers [APPID ...]`: page through WeChat's follower list and update ours."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from typing import Any

from wechat.client import WeChatClient
from wxnotify.accounts.commands import PerAccountCommand
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
        return await sync_followers(
            account=account, pages=follower_pages(api.client), details=api.client.get_users_info
        )


class Command(PerAccountCommand):
    help = "Sync followers from WeChat's user/get list (all active accounts, or those given)."

    def run(self, account: OfficialAccount) -> Coroutine[Any, Any, SyncResult]:
        return sync_account(account)

    def describe(self, result: SyncResult) -> str:
        return (
            f"listed {result.listed}, added {result.added}, "
            f"refollowed {result.refollowed}, marked unfollowed {result.missing}"
        )
