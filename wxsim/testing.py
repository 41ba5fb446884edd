"""Running wxsim inside a test process: a background thread with its own event loop, and the public
client (`wxsim.client.Simulator`) with a hand on its world. `with running_simulator() as sim: ...`"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from wxsim.client import Simulator
from wxsim.server import DELIVERER, WORLD, build_app, start
from wxsim.state import World


class SimulatorClient(Simulator):
    """The public client (`wxsim.client.Simulator`) of a simulator running in this process, with a hand
    on its world for a test's assertions."""

    def __init__(self, base_url: str, app: web.Application, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(base_url)
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


class LoopbackServer:
    """A small aiohttp app of a test's own on a free loopback port, in a thread of its own: the other side of
    the simulator's pushes (an account's server URL), or a hospital's page. `routes(app)` adds its routes."""

    def __init__(self, routes: Callable[[web.Application], None]) -> None:
        self._background = BackgroundLoop()

        async def serve() -> TestServer:
            app = web.Application()
            routes(app)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            return server

        self._server: TestServer = self._background.run(serve())

    def url(self, path: str) -> str:
        return str(self._server.make_url(path))

    def close(self) -> None:
        self._background.run(self._server.close())
        self._background.close()


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
