"""The product's way to talk to WeChat for one account: a client wired to the shared token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from django.conf import settings

from wechat.client import CredentialClient, Token, WeChatClient
from wxnotify.accounts.models import OfficialAccount, SharedCredential
from wxnotify.accounts.tokens import SharedCredentialSource


def new_session(*, limit: int = 100) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=settings.WECHAT_HTTP_TIMEOUT)
    return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=limit))


@dataclass
class AccountAPI:
    account: OfficialAccount
    client: WeChatClient
    credentials: CredentialClient
    jsapi_tickets: SharedCredentialSource


def token_source(account: OfficialAccount, credentials: CredentialClient) -> SharedCredentialSource:
    async def fetch(stale: str | None) -> Token:
        # stable_token survives other systems of the hospital fetching tokens for the same account;
        # force a new one only when WeChat refused the one stable_token still hands out.
        token = await credentials.fetch_stable_token(appid=account.appid, secret=account.app_secret)
        if stale is not None and token.value == stale:
            token = await credentials.fetch_stable_token(
                appid=account.appid, secret=account.app_secret, force_refresh=True
            )
        return token

    return SharedCredentialSource(account, SharedCredential.Kind.ACCESS_TOKEN, fetch)


@asynccontextmanager
async def account_api(
    account: OfficialAccount, *, base_url: str | None = None, connections: int = 100
) -> AsyncIterator[AccountAPI]:
    base = base_url or settings.WECHAT_API_BASE_URL
    async with new_session(limit=max(connections, 10)) as session:
        credentials = CredentialClient(session, base)
        client = WeChatClient(session, token_source(account, credentials), base)

        async def fetch_ticket(stale: str | None) -> Token:
            return await client.get_jsapi_ticket()

        tickets = SharedCredentialSource(account, SharedCredential.Kind.JSAPI_TICKET, fetch_ticket)
        yield AccountAPI(account=account, client=client, credentials=credentials, jsapi_tickets=tickets)
