"""One access token per account, shared by all processes, refreshed once however many hit 40001 together."""

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import aiohttp
import pytest
from django.db import connection
from django.utils import timezone

from tests.fakewechat import FakeWeChat, serve_in_thread
from wechat.client import CredentialClient, WeChatClient
from wechat.errors import WeChatAPIError
from wxnotify.accounts.models import SharedCredential
from wxnotify.accounts.tokens import SharedCredentialSource
from wxnotify.accounts.wechat import token_source

pytestmark = pytest.mark.django_db(transaction=True)


class StableTokenWeChat(FakeWeChat):
    """stable_token as WeChat documents it: the same token until forced; forcing issues a new one."""

    def __init__(self) -> None:
        super().__init__()
        self.generation = 1
        self.modes: Counter[str] = Counter()
        self.revoked: set[str] = set()
        self.lock = threading.Lock()
        self.on("/cgi-bin/stable_token", self.stable_token)
        self.on("/cgi-bin/menu/get", self.menu_get)

    async def stable_token(self, request, payload):
        await asyncio.sleep(0.05)  # WeChat takes a moment: lets racing processes overlap
        with self.lock:
            if payload.get("force_refresh"):
                self.generation += 1
                self.modes["force"] += 1
            else:
                self.modes["normal"] += 1
            return {"access_token": f"TOKEN-{self.generation}", "expires_in": 7200}

    def menu_get(self, request, payload):
        token = request.query["access_token"]
        if token != f"TOKEN-{self.generation}" or token in self.revoked:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        return {"menu": {"button": []}}


def in_threads(n: int, work):
    """Run `work(index)` in n threads, each with its own event loop and database connection (like processes)."""
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            results[i] = asyncio.run(work(i))
        except Exception as error:  # collected and re-raised in the test thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_eight_processes_starting_cold_fetch_one_token(make_account):
    account = make_account()
    fake = StableTokenWeChat()
    base, stop = serve_in_thread(fake)
    try:

        async def work(i):
            async with aiohttp.ClientSession() as session:
                return await token_source(account, CredentialClient(session, base)).get()

        tokens = in_threads(8, work)
    finally:
        stop()
    assert set(tokens) == {"TOKEN-1"}
    assert fake.calls["/cgi-bin/stable_token"] == 1


def test_eight_processes_hitting_40001_together_force_one_refresh(make_account):
    account = make_account()
    fake = StableTokenWeChat()
    base, stop = serve_in_thread(fake)
    try:

        async def warm():
            async with aiohttp.ClientSession() as session:
                return await token_source(account, CredentialClient(session, base)).get()

        assert asyncio.run(warm()) == "TOKEN-1"
        # Another system kicked TOKEN-1 (see docs/wechat-protocol.md §1.2): WeChat answers 40001 to it, yet
        # stable_token in normal mode still hands it out ...
        fake.revoked.add("TOKEN-1")
        fake.modes.clear()

        async def work(i):
            async with aiohttp.ClientSession() as session:
                client = WeChatClient(session, token_source(account, CredentialClient(session, base)), base)
                return await client.get_menu()

        in_threads(8, work)
    finally:
        stop()
    # ... and stable_token (normal) still hands out the refused one, so exactly one process forces a new one.
    assert fake.modes["force"] == 1
    row = SharedCredential.objects.get(account=account, kind="access_token")
    assert row.value == "TOKEN-2" and row.generation == 2 and row.refreshing_until is None
    assert fake.calls["/cgi-bin/menu/get"] == 16  # each of the 8 tried once with TOKEN-1, once with TOKEN-2


def test_token_is_reused_from_memory_and_database(make_account):
    account = make_account()
    fetches = []

    async def fetch(stale):
        from wechat.client import Token

        fetches.append(stale)
        return Token(f"T{len(fetches)}", 7200)

    async def main():
        first = SharedCredentialSource(account, "access_token", fetch)
        assert await first.get() == "T1"
        assert await first.get() == "T1"
        second = SharedCredentialSource(account, "access_token", fetch)  # another process: reads the row
        assert await second.get() == "T1"
        assert await second.refresh("T1") == "T2"
        assert await first.refresh("T1") == "T2"  # already refreshed elsewhere: no new fetch

    asyncio.run(main())
    assert fetches == [None, "T1"]


def test_token_close_to_expiry_is_refreshed(make_account):
    account = make_account()
    SharedCredential.objects.create(
        account=account, kind="access_token", value="OLD", expires_at=timezone.now() + timedelta(minutes=4)
    )

    async def fetch(stale):
        from wechat.client import Token

        return Token("NEW", 7200)

    assert asyncio.run(SharedCredentialSource(account, "access_token", fetch).get()) == "NEW"


def test_a_dead_refreshers_lease_only_delays_the_next_refresh(make_account):
    account = make_account()
    SharedCredential.objects.create(
        account=account, kind="access_token", refreshing_until=timezone.now() + timedelta(milliseconds=300)
    )

    async def fetch(stale):
        from wechat.client import Token

        return Token("AFTER-LEASE", 7200)

    source = SharedCredentialSource(account, "access_token", fetch, lease=timedelta(seconds=2))
    assert asyncio.run(source.get()) == "AFTER-LEASE"


def test_a_failed_fetch_releases_the_lease_and_reports_the_error(make_account):
    account = make_account()

    async def fetch(stale):
        raise WeChatAPIError(40125, "invalid appsecret", path="/cgi-bin/stable_token")

    with pytest.raises(WeChatAPIError):
        asyncio.run(SharedCredentialSource(account, "access_token", fetch).get())
    assert SharedCredential.objects.get(account=account).refreshing_until is None
