"""wxsim's own tests: the simulator runs in-process on a loopback port; tests speak HTTP to it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from wxsim.testing import LoopbackServer, SimulatorClient, running_simulator

APPID = "wx1234567890abcdef"
SECRET = "app-secret-0123456789abcdef012345"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


@pytest.fixture
def sim():
    with running_simulator(delivery_timeout=1.0, sent_event_delay=0.0) as client:
        yield client


class WeChat:
    """Calls the simulator's WeChat API the way any client would, with the account's current token."""

    def __init__(self, sim: SimulatorClient) -> None:
        self.sim = sim
        self.access_token = ""

    def __call__(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None, *, token: bool = True
    ) -> dict[str, Any]:
        # WeChat answers its errors with HTTP 200 too: the client raises on any other status
        query = dict(params or {})
        access_token = query.pop("access_token", self.access_token) if token else None
        return self.sim.wechat(method, path, access_token, body, **query)

    def login(self) -> str:
        self.access_token = self.sim.access_token(APPID, SECRET)
        return self.access_token


class Inbox:
    """A stand-in server URL of an account: records what arrives, answers like a product would."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.delay_first: float = 0.0
        self.reply: bytes = b"success"
        self.url = ""
        self._server: LoopbackServer | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.query), await request.read()))
        if self.delay_first and len(self.requests) == 1:
            await asyncio.sleep(self.delay_first)
        return web.Response(body=self.reply)

    def start(self) -> Inbox:
        self._server = LoopbackServer(lambda app: app.router.add_post("/callback", self._handle))
        self.url = self._server.url("/callback")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()


@pytest.fixture
def inbox():
    box = Inbox().start()
    yield box
    box.stop()


def put_account(sim: SimulatorClient, callback_url: str, *, mode: str = "safe") -> None:
    """The hospital account of these tests, as WeChat knows it."""
    sim.put_account(
        appid=APPID,
        secret=SECRET,
        original_id="gh_abcdef123456",
        token="cbtoken",
        encoding_aes_key=AES_KEY,
        mode=mode,
        callback_url=callback_url,
        name="瑞康医院",
    )


@pytest.fixture
def account(sim, inbox):
    """A safe-mode hospital account with two templates (one-time 5004, long-term 5006) and three followers."""
    put_account(sim, inbox.url)
    one_time = sim.post(
        f"/_sim/accounts/{APPID}/templates", {"tid": 5004, "kid_list": [1, 2, 3, 5], "scene_desc": "疫苗到货"}
    )
    long_term = sim.post(
        f"/_sim/accounts/{APPID}/templates", {"tid": 5006, "kid_list": [1, 2, 3], "scene_desc": "复诊提醒"}
    )
    openids = sim.post(f"/_sim/accounts/{APPID}/patients", {"count": 3})["openids"]
    return {"one_time": one_time["priTmplId"], "long_term": long_term["priTmplId"], "openids": openids}


@pytest.fixture
def wx(sim):
    return WeChat(sim)


def read_push(
    query: dict[str, str], body: bytes, *, token: str = "cbtoken", aes_key: str = AES_KEY, appid: str = APPID
):
    """Check a push like a product would (signatures, AES) and return the message inside."""
    from wechat.crypto import MessageCrypto
    from wechat.signature import is_valid_signature
    from wechat.xmlcodec import parse_envelope, parse_message

    assert is_valid_signature(query["signature"], token, query["timestamp"], query["nonce"])
    if query.get("encrypt_type") == "aes":
        crypto = MessageCrypto(token=token, encoding_aes_keys=[aes_key], appid=appid)
        body, _ = crypto.decrypt(
            encrypt=parse_envelope(body).encrypt,
            msg_signature=query["msg_signature"],
            timestamp=query["timestamp"],
            nonce=query["nonce"],
        )
    return parse_message(body)
