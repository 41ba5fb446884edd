"""The simulator's aiohttp application and the `wxsim` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import random
from typing import Any

from aiohttp import web

from wxsim.api import Api
from wxsim.control import Control
from wxsim.deliver import Deliverer
from wxsim.library import DEMO_TEMPLATES
from wxsim.pages import Pages
from wxsim.patients import Patients
from wxsim.state import World

WORLD, DELIVERER = web.AppKey("world", World), web.AppKey("deliverer", Deliverer)
PATIENTS, API = web.AppKey("patients", Patients), web.AppKey("api", Api)

# The demo account `make demo` connects (demo values, published on purpose).
DEMO_ACCOUNT = {
    "appid": "wxd3m0a1b2c3d4e5f6",
    "secret": "demo0secret0not0for0production",
    "original_id": "gh_d3m0ruikang01",
    "token": "wxnotifydemotoken",
    "encoding_aes_key": "DemoRuikangHospitalEncodingAESKey0123456789",
    "mode": "safe",
    "name": "瑞康医院（演示）",
}


def build_app(
    world: World | None = None,
    *,
    delivery_timeout: float = 5.0,
    delivery_attempts: int = 3,
    sent_event_delay: float = 0.05,
) -> web.Application:
    world = world or World()
    app = web.Application(client_max_size=1024 * 1024)
    deliverer = Deliverer(
        world, timeout=delivery_timeout, attempts=delivery_attempts, sent_event_delay=sent_event_delay
    )
    patients = Patients(world, deliverer)
    app[WORLD], app[DELIVERER], app[PATIENTS] = world, deliverer, patients
    api = app[API] = Api(world, patients.sent)
    api.install(app)
    Pages(world, patients).install(app)
    Control(world, patients, deliverer).install(app)

    async def close(app: web.Application) -> None:
        await deliverer.close()

    app.on_cleanup.append(close)
    return app


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `app`; WeChat API calls skip aiohttp's router and go straight to `Api.handle` (they are the
    hot path of every benchmark), everything else goes through the application as usual."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    api, server = app[API], runner.server
    assert server is not None
    routed = server.request_handler

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        if request.raw_path.partition("?")[0] in api.routes:
            return await api.handle(request)  # type: ignore[arg-type]
        return await routed(request)

    server.request_handler = dispatch
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = [addr[1] for addr in runner.addresses if isinstance(addr, tuple)]
    return runner, bound[0] if bound else port


def load_demo(world: World, *, callback_url: str = "", patients: int = 3000, seed: int = 7) -> None:
    """The demo account, its templates, and `patients` following patients. Nobody is subscribed yet:
    subscriptions happen through popups, so the account's server hears about every one of them."""
    account = world.put_account(**DEMO_ACCOUNT, callback_url=callback_url)
    if not account.templates:
        for tid, kids, scene in DEMO_TEMPLATES:
            world.add_template(account, tid, kids, scene)
    if not account.patients:
        rng = random.Random(seed)
        for patient in world.new_patients(account, patients):
            patient.followed_at -= rng.randrange(400 * 86400)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="wxsim", description="An offline WeChat for Official Accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the simulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument("--demo", action="store_true", help="preload the demo account, templates and patients")
    serve.add_argument("--demo-callback", default="", help="the demo account's server URL")
    serve.add_argument("--demo-patients", type=int, default=3000)
    serve.add_argument("--seed", type=int, default=None)
    serve.add_argument("--uvloop", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s wxsim %(levelname)s %(message)s")
    # A long send keeps hundreds of thousands of small records alive (what each patient received);
    # with the default thresholds the cyclic GC re-walks them all the time and halves throughput.
    gc.set_threshold(200_000, 50, 1000)
    world = World(seed=args.seed)
    if args.demo:
        load_demo(world, callback_url=args.demo_callback, patients=args.demo_patients)
    loop_factory: Any = None
    if args.uvloop:
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:  # only the development requirements install it (the demo runs without)
            loop_factory = None
    print(
        f"wxsim listening on http://{args.host}:{args.port}" + (" (demo account loaded)" if args.demo else ""),
        flush=True,
    )
    loop = loop_factory() if loop_factory is not None else asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    runner, _ = loop.run_until_complete(start(build_app(world), args.host, args.port))
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        loop.run_until_complete(runner.cleanup())
