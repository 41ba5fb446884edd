"""Delivering pushes to an account's server URL the way WeChat does.

Signed, encrypted in compatible and safe mode, 5 s to answer, then the same payload again with a
fresh signature (up to 3 attempts in all by default — the docs say "retries three times", which
the community reads as three attempts). Every attempt is recorded so tests can count retries.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from defusedxml.ElementTree import fromstring

from wechat.crypto import CryptoError, MessageCrypto
from wechat.messages import Message
from wechat.xmlcodec import MalformedMessage, parse_envelope, render_message
from wxsim.client import ServerURL
from wxsim.state import Account, Received, World


@dataclass
class Attempt:
    outcome: str  # "ok", "timeout", "http-500", "error"
    ms: float


@dataclass
class Delivery:
    appid: str
    openid: str
    event: str
    attempts: list[Attempt] = field(default_factory=list)
    reply: str = ""  # "success", "empty", "text", "news", "invalid: …"
    ok: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "appid": self.appid,
            "openid": self.openid,
            "event": self.event,
            "ok": self.ok,
            "reply": self.reply,
            "attempts": [{"outcome": a.outcome, "ms": round(a.ms, 1)} for a in self.attempts],
        }


class Deliverer:
    def __init__(
        self, world: World, *, timeout: float = 5.0, attempts: int = 3, sent_event_delay: float = 0.05
    ) -> None:
        self.world = world
        self.timeout = timeout
        self.max_attempts = attempts
        self.sent_event_delay = sent_event_delay
        self.log: deque[Delivery] = deque(maxlen=20000)
        self.stats: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._limit = asyncio.Semaphore(64)  # WeChat does not flood a server; neither do we

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        return self._session

    def later(self, account: Account, message: Message, delay: float = 0.0) -> None:
        """Deliver in the background (bizsend's subscribe_msg_sent_event comes a moment after the answer)."""
        if not account.callback_url:
            return

        async def run() -> None:
            if delay:
                await asyncio.sleep(delay)
            await self.deliver(account, message)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def deliver(self, account: Account, message: Message) -> Delivery:
        delivery = Delivery(account.appid, message.openid, message.event or message.msg_type)
        self.log.append(delivery)
        if not account.callback_url:
            delivery.reply = "no callback URL configured"
            return delivery
        xml = render_message(message)
        async with self._limit:
            server = ServerURL(
                account.callback_url,
                token=account.token,
                appid=account.appid,
                mode=account.mode,
                encoding_aes_key=account.encoding_aes_key,
            )
            for _ in range(self.max_attempts):
                push = server.build(xml)  # each attempt signed anew, as WeChat's retries are
                started = time.perf_counter()
                self.stats["attempts"] += 1
                try:
                    async with self._client().post(
                        account.callback_url,
                        params=push.query,
                        data=push.body,
                        headers={"Content-Type": "text/xml"},
                        timeout=aiohttp.ClientTimeout(total=self.timeout),
                    ) as response:
                        body = await response.read()
                        ms = (time.perf_counter() - started) * 1000
                        if response.status != 200:
                            delivery.attempts.append(Attempt(f"http-{response.status}", ms))
                            self.stats[f"http-{response.status}"] += 1
                            continue
                except TimeoutError:
                    delivery.attempts.append(Attempt("timeout", (time.perf_counter() - started) * 1000))
                    self.stats["timeouts"] += 1
                    continue
                except aiohttp.ClientError as error:
                    delivery.attempts.append(
                        Attempt(f"error: {type(error).__name__}", (time.perf_counter() - started) * 1000)
                    )
                    self.stats["errors"] += 1
                    await asyncio.sleep(0.2)
                    continue
                delivery.attempts.append(Attempt("ok", ms))
                delivery.ok = True
                delivery.reply = self._read_reply(account, message, body, push.query)
                break
        self.stats["retries"] += max(0, len(delivery.attempts) - 1)
        self.stats["delivered" if delivery.ok else "undelivered"] += 1
        return delivery

    def _read_reply(self, account: Account, message: Message, body: bytes, query: dict[str, str]) -> str:
        """What the patient sees: nothing for "success" or an empty body, a message for a valid reply."""
        text = body.strip()
        if text in (b"", b"success"):
            return "empty" if not text else "success"
        try:
            if account.mode != "plaintext" and b"<Encrypt>" in text:
                envelope = parse_envelope(text)
                root = fromstring(text)
                crypto = MessageCrypto(
                    token=account.token, encoding_aes_keys=[account.encoding_aes_key], appid=account.appid
                )
                text, _ = crypto.decrypt(
                    encrypt=envelope.encrypt,
                    msg_signature=root.findtext("MsgSignature") or "",
                    timestamp=root.findtext("TimeStamp") or "",
                    nonce=root.findtext("Nonce") or "",
                )
            elif account.mode == "safe":
                return "invalid: plaintext reply in safe mode"
            root = fromstring(text)
        except (CryptoError, MalformedMessage, ValueError, SyntaxError) as error:
            return f"invalid: {error}"
        if root.findtext("ToUserName") != message.openid or root.findtext("FromUserName") != account.original_id:
            return "invalid: To/From do not match the push"
        kind = root.findtext("MsgType") or ""
        content: dict[str, Any] = {"msgtype": kind}
        if kind == "text":
            content["content"] = root.findtext("Content") or ""
        elif kind == "news":
            items = root.findall("Articles/item")
            if len(items) != 1:
                return "invalid: news reply must have exactly one article"
            content["articles"] = [{c.tag: c.text or "" for c in item} for item in items]
        patient = account.patients.get(message.openid)
        if patient is not None:
            patient.inbox.append(Received("reply", self.world.clock.now(), content=content))
        return kind
