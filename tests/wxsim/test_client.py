"""wxsim's public client (`wxsim.client`): what a script driving the simulator relies on."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.wxsim.conftest import AES_KEY, APPID, SECRET, put_account, read_push
from wechat.messages import MenuClickEvent
from wxsim.client import ServerURL, Simulator, SimulatorError, wait_until_up


def a_click() -> MenuClickEvent:
    return MenuClickEvent(
        account_original_id="gh_abcdef123456",
        openid="oPatient1",
        create_time=int(time.time()),
        msg_type="event",
        key="K",
    )


def test_a_control_error_raises_with_the_status_and_the_answer(sim):
    with pytest.raises(SimulatorError) as raised:
        sim.post("/_sim/accounts", {"appid": APPID})
    assert raised.value.status == 400 and "missing" in raised.value.answer["error"]
    assert "missing" in sim.post("/_sim/accounts", {"appid": APPID}, expect=400)["error"]


def test_named_calls_reach_the_control_and_wechat_apis(sim, inbox):
    client = Simulator(sim.base_url).wait_until_up(seconds=5)  # a fresh client, as a script has
    put_account(client, inbox.url)
    template = client.add_template(APPID, 5004, [1, 2, 3, 5], "疫苗到货")
    openids = client.add_patients(APPID, 2, credits={template["priTmplId"]: 1})
    assert [p["openid"] for p in client.patients(APPID, limit=10)] == openids
    answer = client.act(APPID, openids[0], "click", key="MENU_GUIDE_OPD")
    assert answer["delivery"]["ok"] and len(inbox.requests) == 1
    token = client.access_token(APPID, SECRET)
    assert client.wechat("GET", "/cgi-bin/user/get", token)["total"] == 2
    assert client.wechat("GET", "/cgi-bin/user/get", "not-a-token")["errcode"] == 40014  # WeChat's way: HTTP 200
    with pytest.raises(SimulatorError):
        client.access_token(APPID, "wrong-secret")


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_a_server_url_is_called_as_wechat_calls_it(inbox, mode):
    server = ServerURL(inbox.url, token="cbtoken", appid=APPID, mode=mode, encoding_aes_key=AES_KEY)
    message = a_click()
    assert server.push(message) == (200, b"success")
    query, body = inbox.requests[-1]
    assert read_push(query, body) == message  # the signature holds and, encrypted, it decrypts to the message
    assert ("encrypt_type" in query) == (mode != "plaintext")


def test_a_refusal_is_answered_not_raised(inbox):
    server = ServerURL(inbox.url + "-nowhere", token="cbtoken", appid=APPID, mode="plaintext")
    message = a_click()
    status, _ = server.push(message)
    assert status == 404


def test_waiting_stops_when_the_process_has_exited_or_the_time_is_up():
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(RuntimeError, match="exited with 0"):
        wait_until_up(url, seconds=30, process=exited)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="nothing answered"):
        wait_until_up(url, seconds=0.5)
    assert time.monotonic() - started < 5


def test_the_readme_example_runs_as_written(sim, inbox, account):
    """wxsim/README.md's example, run against this simulator, with its hospital's server URL played by the inbox."""
    readme = (Path(__file__).resolve().parents[2] / "wxsim" / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace('"http://127.0.0.1:8100"', repr(sim.base_url))
    example = example.replace('f"http://127.0.0.1:8000/wechat/{appid}/callback"', repr(inbox.url))
    message = a_click()
    names = {
        "appid": APPID,
        "secret": SECRET,
        "template_id": account["one_time"],
        "callback_token": "cbtoken",
        "aes_key": AES_KEY,
        "message": message,
    }
    exec(compile(example, "wxsim/README.md", "exec"), names)  # noqa: S102 - our own document
    assert names["followers"]["total"] == 4  # the account's three patients and the one who just followed
    assert sim.patient(APPID, names["openid"])["credits"] == {account["one_time"]: 1}
    assert names["status"] == 200 and read_push(*inbox.requests[-1]) == message
    assert names["url"].startswith(inbox.url + "?") and names["body"]
    sim.clear_faults()
