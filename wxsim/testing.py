"""Running wxsim inside a test process: a background thread with its own event loop, and a small
synchronous client for the control API. `with running_simulator() as sim: ...`"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from wxsim.server import DELIVERER, WORLD, build_app, start
from wxsim.state import World


class SimulatorClient:
    def __init__(self, base_url: str, app: web.Application, loop: asyncio.AbstractEventLoop) -> None:
        self.base_url = base_url
        self.app = app
        self.loop = loop

    @property
    def world(self) -> World:
        """Direct access for assertions; mutate it only through `call` or the control API."""
        return self.app[WORLD]

    def call(self, fn: Any) -> Any:
        """Run `fn()` on the simulator's loop thread (the world is not thread-safe)."""
        future: Any = asyncio.run_coroutine_threadsafe(self._run(fn), self.loop)
        return future.result(timeout=60)

    async def _run(self, fn: Any) -> Any:
        result = fn()
        return await result if asyncio.iscoroutine(result) else result

    def request(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the simulator's own loopback URL
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        result = json.loads(payload) if payload else None
        if status != expect:
            raise AssertionError(f"{method} {path} answered {status}: {result}")
        return result

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body if body is not None else {}, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def drain(self) -> None:
        self.call(self.app[DELIVERER].drain)


class BackgroundLoop:
    """An event loop running in its own thread. Callers in any thread (even one where another loop
    runs, such as Playwright's) hand it coroutines with `run`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@contextmanager
def running_simulator(**options: Any) -> Iterator[SimulatorClient]:
    background = BackgroundLoop()

    async def build() -> tuple[web.Application, web.AppRunner, int]:
        app = build_app(**options)  # inside the loop: aiohttp objects bind to the loop they are made in
        runner, port = await start(app, "127.0.0.1", 0)
        return app, runner, port

    app, runner, port = background.run(build())
    try:
        yield SimulatorClient(f"http://127.0.0.1:{port}", app, background.loop)
    finally:
        background.run(runner.cleanup(), timeout=30)
        background.close()
