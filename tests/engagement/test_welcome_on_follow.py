"""A follow is answered with the configured card (the passive reply, decrypted from the safe-mode answer)
and a second 图文 right after it, sent by the worker through custom/send; WeChat's refusals are kept with
their reason and never retried blindly."""

import time

import pytest

from tests.conftest import as_account, fixture_xml, queue_worker
from tests.engagement.conftest import inbox, welcome
from wxnotify.callbacks.models import InboundMessage
from wxnotify.engagement.models import SecondMessage

pytestmark = pytest.mark.django_db(transaction=True)


def follow(sim, account, openid="new", scene=None):
    body = {"scene": scene} if scene else {}
    return sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/follow", body)


def test_a_follow_gets_the_card_and_then_the_second_message_from_a_worker(hospital_on_wechat, settings):
    account, sim = hospital_on_wechat
    welcome(account)
    settings.WXNOTIFY_SECOND_MESSAGE_DELAY_SECONDS = 1
    with queue_worker(WECHAT_API_BASE_URL=sim.base_url):
        answer = follow(sim, account)
        assert answer["delivery"]["reply"] == "news"  # the simulator decrypted and checked our safe-mode answer
        message = SecondMessage.objects.get(openid=answer["openid"])
        deadline = time.monotonic() + 30
        while message.state == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
            message.refresh_from_db()
    assert (message.state, message.attempts, message.inbound.event) == ("sent", 1, "subscribe")
    reply, second = inbox(sim, account, answer["openid"])  # in this order, as the patient sees them
    assert reply["kind"] == "reply" and reply["content"]["articles"][0]["Title"] == "欢迎关注瑞康医院"
    assert second["kind"] == "custom" and second["content"]["msgtype"] == "news"
    assert second["content"]["news"]["articles"][0]["title"] == "九价HPV疫苗到货提醒，一键订阅"


def test_a_qr_scene_and_a_refollow_choose_their_own_welcome(hospital_on_wechat):
    account, sim = hospital_on_wechat
    welcome(account)
    welcome(account, scene="poster_hpv", reply_kind="text", text="感谢扫描HPV疫苗海报！", second_enabled=False)
    welcome(account, when="again", reply_kind="text", text="欢迎回来", second_title="回来看看新活动")
    poster = follow(sim, account, scene="poster_hpv")
    assert inbox(sim, account, poster["openid"])[0]["content"] == {
        "msgtype": "text",
        "content": "感谢扫描HPV疫苗海报！",
    }
    assert len(inbox(sim, account, poster["openid"])) == 1  # this welcome has no second message
    plain = follow(sim, account)
    sim.post(f"/_sim/accounts/{account.appid}/patients/{plain['openid']}/unfollow")
    # A follow in the same second as the first would be the same push to WeChat's dedupe (openid + CreateTime)
    sim.post("/_sim/clock", {"advance": 2})
    again = follow(sim, account, plain["openid"])
    # tasks run inline in this test, so the second message may arrive first; the worker test checks the order
    latest = [m["content"] for m in inbox(sim, account, again["openid"])[-2:]]
    assert {"msgtype": "text", "content": "欢迎回来"} in latest
    assert any(m.get("news", {}).get("articles", [{}])[0].get("title") == "回来看看新活动" for m in latest)


def test_a_scan_by_a_follower_gets_the_scenes_welcome_only(hospital_on_wechat):
    account, sim = hospital_on_wechat
    welcome(account)
    welcome(account, scene="clinic", reply_kind="text", text="义诊签到成功", second_enabled=False)
    patient = follow(sim, account)["openid"]
    sim.post(f"/_sim/accounts/{account.appid}/patients/{patient}/scan", {"scene": "clinic"})
    sim.post(f"/_sim/accounts/{account.appid}/patients/{patient}/scan", {"scene": "elsewhere"})
    texts = [m["content"] for m in inbox(sim, account, patient) if m["content"].get("msgtype") == "text"]
    assert texts == [{"msgtype": "text", "content": "义诊签到成功"}]


def test_outside_the_window_the_reason_is_kept_and_nothing_is_retried(hospital_on_wechat):
    account, sim = hospital_on_wechat
    welcome(account)
    sim.post(
        "/_sim/faults",
        {
            "path": "/cgi-bin/message/custom/send",
            "errcode": 45015,
            "errmsg": "response out of time limit or subscription is canceled",
        },
    )
    answer = follow(sim, account)
    assert answer["delivery"]["reply"] == "news"  # the first message does not depend on the window
    message = SecondMessage.objects.get(openid=answer["openid"])
    assert (message.state, message.errcode, message.attempts) == ("failed", 45015, 1)
    assert sim.get("/_sim/stats")["calls"]["/cgi-bin/message/custom/send"] == {"45015": 1}
    from django.contrib.auth import get_user_model
    from django.test import Client

    from wxnotify.accounts.models import Membership

    operator = get_user_model().objects.create_user("op-45015")
    Membership.objects.create(user=operator, account=account, role="operator")
    console = Client()
    console.force_login(operator)
    row = console.get("/engagement/welcome/").content.decode().split(f'data-second="{message.pk}"')[1].split("</tr>")[0]
    assert "未送达" in row and "45015" in row and "不在客服消息窗口内" in row and "不会自动重发" in row


def test_a_passing_fault_is_retried_within_the_minute(hospital_on_wechat):
    from wxnotify.engagement import services

    account, sim = hospital_on_wechat
    welcome(account, second_enabled=False)
    openid = follow(sim, account)["openid"]  # opens the minute in which WeChat takes 3 messages
    message = SecondMessage.objects.create(
        account=account, openid=openid, content={"msgtype": "text", "text": {"content": "测试"}}
    )
    sim.post(
        "/_sim/faults", {"path": "/cgi-bin/message/custom/send", "errcode": -1, "errmsg": "system error", "count": 2}
    )
    waited = []
    services.send_second_message(message_id=message.pk, sleep=waited.append)
    message.refresh_from_db()
    assert (message.state, message.attempts, waited) == ("sent", 3, [1.0, 2.0])
    assert sim.get("/_sim/stats")["calls"]["/cgi-bin/message/custom/send"] == {"-1": 2, "0": 1}


def test_a_retried_follow_push_is_welcomed_once(push, make_account):
    account = make_account(mode="safe")
    welcome(account, second_enabled=False)
    body = as_account(fixture_xml("follow.xml"), account, **{"1610969440": str(int(time.time()))})
    first, retry = push(account, body), push(account, body)
    assert b"<Encrypt>" in first.content and retry.content == b"success"  # answered once, then "success"
    assert InboundMessage.objects.get().times_received == 2


def test_a_follow_that_reaches_us_late_gets_no_second_message(push, make_account):
    """The demo's history, or a push WeChat retried for long: past the minute WeChat allows, it is not sent."""
    account = make_account(mode="safe")
    welcome(account)
    old = as_account(fixture_xml("follow.xml"), account)  # CreateTime in 2021
    assert push(account, old).status_code == 200
    message = SecondMessage.objects.get()
    assert (message.state, message.errmsg, message.attempts) == ("skipped", "window", 0)
