"""A scriptable stand-in for WeChat's API, for the client's own tests.

It is the other side of the wire, not a mock of our code: the client under test makes real HTTP
requests over loopback. (wxsim, the full simulator, replaces it where behaviour matters.)
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

Handler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse] | web.StreamResponse | dict[str, Any]]


class FakeWeChat:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.server: TestServer | None = None

    def on(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.calls[request.path] += 1
        self.requests.append((request.path, dict(request.query), body))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.json_response({"errcode": 404, "errmsg": "no such path in FakeWeChat"})
        payload = json.loads(body) if body else {}
        result = handler(request, payload)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, web.StreamResponse):
            return result
        return web.Response(text=json.dumps(result, ensure_ascii=False), content_type="application/json")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self.server:
            await self.server.close()


def serve_in_thread(fake: FakeWeChat) -> tuple[str, Callable[[], None]]:
    """Run `fake` on its own event loop in a daemon thread, for tests whose code under test is synchronous
    or runs its own loops; returns (base URL, stop)."""
    from wxsim.testing import BackgroundLoop

    background = BackgroundLoop()
    base = background.run(fake.start())

    def stop() -> None:
        background.run(fake.close())
        background.close()

    return base, stop
