"""The product against the simulator, as it will run against WeChat: pushes into the live callback
endpoint (with WeChat's retries), tokens from stable_token, followers from user/get."""

import asyncio
import threading
import time

import pytest
from django.core.management import call_command

from wechat.messages import MenuClickEvent
from wxnotify.accounts.wechat import account_api
from wxnotify.callbacks import dispatch
from wxnotify.callbacks.models import InboundMessage
from wxnotify.followers.models import Follower, FollowerChange
from wxsim.client import SimulatorError
from wxsim.testing import running_simulator

pytestmark = pytest.mark.django_db(transaction=True)
AES = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


@pytest.fixture
def hospital(make_account, live_server, settings):
    """The same account on both sides: connected in wxnotify, and known to the simulated WeChat."""
    account = make_account(mode="safe", encoding_aes_key=AES)
    with running_simulator(delivery_timeout=1.0, sent_event_delay=0.0) as sim:
        sim.post(
            "/_sim/accounts",
            {
                "appid": account.appid,
                "secret": account.app_secret,
                "original_id": account.original_id,
                "token": account.callback_token,
                "encoding_aes_key": AES,
                "mode": "safe",
                "callback_url": f"{live_server.url}/wechat/{account.appid}/callback",
            },
        )
        settings.WECHAT_API_BASE_URL = sim.base_url
        yield account, sim


def test_patients_actions_land_in_the_product(hospital):
    account, sim = hospital
    openid = sim.post(f"/_sim/accounts/{account.appid}/patients/new/follow", {"scene": "poster_hpv"})["openid"]
    sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/click", {"key": "MENU_VACCINE"})
    sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/text", {"content": "疫苗什么时候到？"})
    result = sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/unfollow")
    assert result["delivery"]["ok"] and result["delivery"]["reply"] == "success"
    kinds = list(InboundMessage.objects.filter(account=account).order_by("id").values_list("msg_type", "event"))
    assert kinds == [("event", "subscribe"), ("event", "CLICK"), ("text", ""), ("event", "unsubscribe")]
    follower = Follower.objects.get(account=account, openid=openid)
    assert not follower.is_following and follower.qr_scene == "poster_hpv"


def test_a_slow_answer_makes_wechat_retry_and_the_product_stores_it_once(hospital):
    account, sim = hospital
    openid = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"][0]
    calls = []

    def slow_first_time(account_, event, inbound):
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(1.5)  # longer than the simulator's delivery timeout (1 s here, 5 s at WeChat)
        return None

    with dispatch.handling(slow_first_time, MenuClickEvent):
        result = sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/click", {"key": "MENU_VACCINE"})
    assert [a["outcome"] for a in result["delivery"]["attempts"]] == ["timeout", "ok"]
    deadline = time.monotonic() + 5
    while InboundMessage.objects.filter(account=account, times_received=2).count() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    row = InboundMessage.objects.get(account=account, event="CLICK")
    assert row.times_received == 2  # the retry was counted ...
    assert len(calls) == 1  # ... and the click was applied once


def test_follower_sync_pages_through_the_simulated_wechat(hospital):
    account, sim = hospital
    sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 12345})
    gone = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"][0]
    call_command("sync_followers", account.appid)
    assert Follower.objects.filter(account=account, is_following=True).count() == 12346
    sim.post(f"/_sim/accounts/{account.appid}/patients/{gone}/unfollow")  # pushed: the product knows at once
    assert not Follower.objects.get(account=account, openid=gone).is_following
    stats = sim.get("/_sim/stats")["calls"]
    assert stats["/cgi-bin/user/get"] == {"0": 3}  # 10,000 + 2,346 + the empty last page
    assert stats["/cgi-bin/stable_token"] == {"0": 1}
    assert not FollowerChange.objects.filter(kind="sync_missing").exists()


def test_an_invalidated_token_is_refreshed_once_and_the_call_retried(hospital):
    account, sim = hospital

    async def scenario():
        async with account_api(account) as api:
            first = await api.client.get_followers()
            # another system refreshed the token: every token WeChat gave us stops working now
            await asyncio.to_thread(sim.post, f"/_sim/accounts/{account.appid}/invalidate-token")
            second = await api.client.get_followers()
            return first, second

    first, second = asyncio.run(scenario())
    assert first["total"] == second["total"] == 0
    stats = sim.get("/_sim/stats")["calls"]
    assert stats["/cgi-bin/user/get"] == {"0": 2, "40001": 1}
    assert stats["/cgi-bin/stable_token"] == {"0": 2}


def test_concurrent_pushes_from_many_patients_are_each_stored_once(hospital):
    account, sim = hospital
    openids = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 40})["openids"]
    errors = []

    def click(openid):
        try:
            sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/click", {"key": "MENU_GUIDE_OPD"})
        except SimulatorError as error:
            errors.append(error)

    threads = [threading.Thread(target=click, args=(o,)) for o in openids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert InboundMessage.objects.filter(account=account, event="CLICK").count() == 40
