"""Fault injection, call statistics, and pushes: signed, encrypted per mode, retried when the product is slow."""

import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.wxsim.conftest import AES_KEY, APPID, put_account, read_push
from wechat.messages import FollowEvent, MenuClickEvent, SubscribeChangeEvent, TextMessage, UnfollowEvent
from wxsim.client import SimulatorError


def test_errcode_fault_at_a_count_then_back_to_normal(sim, wx, account):
    wx.login()
    sim.post("/_sim/faults", {"path": "/cgi-bin/user/get", "errcode": -1, "errmsg": "system error", "count": 2})
    assert [wx("GET", "/cgi-bin/user/get").get("errcode") for _ in range(3)] == [-1, -1, None]
    stats = sim.get("/_sim/stats")["calls"]["/cgi-bin/user/get"]
    assert stats == {"-1": 2, "0": 1}


def test_fault_rate_is_roughly_honoured(sim, wx, account):
    wx.login()
    sim.post("/_sim/faults", {"path": "/cgi-bin/user/get", "errcode": 45011, "rate": 0.3})
    codes = [wx("GET", "/cgi-bin/user/get").get("errcode") for _ in range(400)]
    assert 70 <= codes.count(45011) <= 170


def test_http_5xx_and_latency_and_timeout_faults(sim, wx, account):
    wx.login()
    sim.post("/_sim/faults", {"path": "/cgi-bin/menu/get", "http_status": 502, "count": 1})
    with pytest.raises(SimulatorError) as error:
        wx("GET", "/cgi-bin/menu/get")
    assert error.value.status == 502
    sim.post("/_sim/faults", {"path": "/cgi-bin/user/get", "latency_ms": {"uniform": [150, 200]}, "count": 1})
    started = time.perf_counter()
    wx("GET", "/cgi-bin/user/get")
    assert time.perf_counter() - started >= 0.15
    sim.post("/_sim/faults", {"path": "/cgi-bin/user/info", "timeout": True, "count": 1})
    with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(f"{sim.base_url}/cgi-bin/user/info?access_token={wx.access_token}&openid=x", timeout=0.5)
    sim.request("DELETE", "/_sim/faults")
    assert wx("GET", "/cgi-bin/user/info", {"openid": account["openids"][0]})["subscribe"] == 1


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_every_patient_action_arrives_signed_and_in_the_accounts_mode(sim, inbox, mode):
    put_account(sim, inbox.url, mode=mode)
    openid = sim.post(f"/_sim/accounts/{APPID}/patients/new/follow", {"scene": "poster_hpv"})["openid"]
    sim.post(f"/_sim/accounts/{APPID}/patients/{openid}/click", {"key": "MENU_VACCINE"})
    sim.post(f"/_sim/accounts/{APPID}/patients/{openid}/text", {"content": "疫苗到了吗"})
    template = sim.post(f"/_sim/accounts/{APPID}/templates", {"tid": 5004, "kid_list": [1, 2]})["priTmplId"]
    sim.post(f"/_sim/accounts/{APPID}/patients/{openid}/settings-reject", {"template_ids": [template]})
    sim.post(f"/_sim/accounts/{APPID}/patients/{openid}/unfollow")
    messages = [read_push(q, b) for q, b in inbox.requests]
    assert [type(m) for m in messages] == [
        FollowEvent,
        MenuClickEvent,
        TextMessage,
        SubscribeChangeEvent,
        UnfollowEvent,
    ]
    assert messages[0].scene == "poster_hpv" and all(m.openid == openid for m in messages)
    assert all(("encrypt_type" in q) == (mode != "plaintext") for q, _ in inbox.requests)
    if mode == "safe":
        assert all(b"<FromUserName>" not in body for _, body in inbox.requests)


def test_a_slow_product_gets_wechats_retries_and_they_are_counted(sim, inbox, account):
    inbox.delay_first = 1.5  # longer than the delivery timeout (1 s in these tests; WeChat's is 5 s)
    result = sim.post(f"/_sim/accounts/{APPID}/patients/{account['openids'][0]}/click", {"key": "MENU_VACCINE"})
    attempts = result["delivery"]["attempts"]
    assert [a["outcome"] for a in attempts] == ["timeout", "ok"]
    assert len(inbox.requests) == 2
    first, second = (read_push(q, b) for q, b in inbox.requests)
    assert first == second  # the same payload ...
    assert inbox.requests[0][0]["nonce"] != inbox.requests[1][0]["nonce"]  # ... with a fresh signature
    assert sim.get("/_sim/stats")["deliveries"]["retries"] == 1


def test_a_product_that_never_answers_gets_three_attempts(sim, inbox, account):
    inbox.reply = b""
    inbox.delay_first = 0
    put_account(sim, "http://127.0.0.1:9/nothing", mode="safe")
    result = sim.post(f"/_sim/accounts/{APPID}/patients/{account['openids'][0]}/click", {"key": "K"})
    assert len(result["delivery"]["attempts"]) == 3 and not result["delivery"]["ok"]


def test_a_passive_reply_reaches_the_patient(sim, inbox, account):
    from wechat.crypto import MessageCrypto
    from wechat.replies import TextReply, encrypt_reply, render_reply

    openid = account["openids"][0]
    plain = render_reply(
        TextReply("欢迎关注瑞康医院"), openid=openid, account_original_id="gh_abcdef123456", create_time=1
    )
    crypto = MessageCrypto(token="cbtoken", encoding_aes_keys=[AES_KEY], appid=APPID)
    inbox.reply = encrypt_reply(plain, crypto, timestamp="1", nonce="2").encode()
    result = sim.post(f"/_sim/accounts/{APPID}/patients/{openid}/text", {"content": "你好"})
    assert result["delivery"]["reply"] == "text"
    received = sim.get(f"/_sim/accounts/{APPID}/patients/{openid}")["received"]
    assert received[-1]["kind"] == "reply" and received[-1]["content"]["content"] == "欢迎关注瑞康医院"
    inbox.reply = plain.encode()  # plaintext in safe mode is not acceptable to WeChat
    assert sim.post(f"/_sim/accounts/{APPID}/patients/{openid}/text", {"content": "你好"})["delivery"][
        "reply"
    ].startswith("invalid")


def test_popup_rules_of_the_open_tag(sim, account):
    openid = account["openids"][0]
    mixed = {account["one_time"]: "accept", account["long_term"]: "accept"}
    assert (
        "20002" in sim.post(f"/_sim/accounts/{APPID}/patients/{openid}/popup", {"choices": mixed}, expect=400)["error"]
    )
    assert (
        "20001"
        in sim.post(f"/_sim/accounts/{APPID}/patients/{openid}/popup", {"choices": {"nope": "accept"}}, expect=400)[
            "error"
        ]
    )


def test_control_api_refuses_bad_input_clearly(sim):
    assert "missing" in sim.post("/_sim/accounts", {"appid": APPID}, expect=400)["error"]
    bad_mode = {"appid": APPID, "secret": "s", "original_id": "gh_1", "token": "t", "mode": "safe"}
    assert "encoding_aes_key" in sim.post("/_sim/accounts", bad_mode, expect=400)["error"]
    assert "40013" in sim.get("/_sim/accounts/wx0", expect=400)["error"]
