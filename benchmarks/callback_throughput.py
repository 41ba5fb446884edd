"""Callback endpoint throughput and latency: signed, AES-encrypted pushes against gunicorn.

`python -m benchmarks.callback_throughput [--events N] [--concurrency C]` starts the web app on a
throwaway database (SQLite by default, DATABASE_URL if set), fires N distinct events as WeChat would
(safe mode), then re-delivers a share of them as WeChat's retries, and reports events/s, latency
percentiles and whether every event was stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.summary import record
from wxsim.client import ServerURL, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ORIGINAL_ID = "gh_bench00000001"
GOAL_EVENTS_PER_S, GOAL_P99_MS = 1500, 100  # roadmap targets


def build_pushes(server: ServerURL, n: int, *, offset: int = 0, create_time: int) -> list[tuple[str, bytes]]:
    """n distinct events, each a signed URL and its body; called again with the same arguments it gives
    WeChat's retries of them (same payloads, fresh nonces and signatures)."""
    from wechat.messages import FollowEvent, MenuClickEvent

    out = []
    for i in range(offset, offset + n):
        base: dict[str, Any] = {
            "account_original_id": ORIGINAL_ID,
            "openid": f"oBench{i:022d}",
            "create_time": create_time,
            "msg_type": "event",
        }
        message = FollowEvent(**base) if i % 2 else MenuClickEvent(**base, key="MENU_VACCINE")
        out.append(server.signed(message))
    return out


async def fire(pushes: list[tuple[str, bytes]], concurrency: int) -> tuple[list[float], int, float]:
    """POST each (signed URL, body) with `concurrency` in flight: latencies, failures, seconds."""
    latencies: list[float] = []
    failures = 0
    queue = iter(pushes)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        for url, body in queue:
            start = time.perf_counter()
            async with session.post(url, data=body, headers={"Content-Type": "text/xml"}) as response:
                await response.read()
                failures += response.status != 200
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return latencies, failures, elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--retries", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    from benchmarks.throwaway import throwaway_database

    # DATABASE_URL set: a database made for the run on that server (the URL's own database is left alone)
    with throwaway_database(postgres=bool(os.environ.get("DATABASE_URL")), prefix="callback") as var_dir:
        return measure(args, var_dir)


def measure(args: argparse.Namespace, var_dir: str) -> dict:
    from wxnotify.accounts.models import OfficialAccount
    from wxnotify.callbacks.models import InboundMessage

    account = OfficialAccount.objects.create(
        name="bench",
        appid="wxbench0000000001",
        original_id=ORIGINAL_ID,
        app_secret="s" * 32,
        callback_token="benchtoken",
        encoding_aes_key="kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
        message_mode="safe",
    )
    from benchmarks import bare_django

    bare_django.create_table()
    at = int(time.time())
    url = f"http://127.0.0.1:{args.port}/wechat/{account.appid}/callback"
    server_url = ServerURL(
        url, token=account.callback_token, appid=account.appid, encoding_aes_key=account.encoding_aes_key
    )
    pushes = build_pushes(server_url, args.events, create_time=at)
    env = os.environ | {
        "WXNOTIFY_VAR_DIR": var_dir,
        "WXNOTIFY_LOG_LEVEL": "ERROR",
        "DJANGO_SETTINGS_MODULE": "benchmarks.bare_settings",  # the product's settings and routes, and the bare view
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-c",
            "config/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "error",
        ],
        cwd=ROOT,
        env=env,
    )
    bare_url = f"http://127.0.0.1:{args.port}/bench/bare/"

    def to_bare(pairs: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        return [(bare_url + signed[len(url) :], body) for signed, body in pairs]

    try:
        wait_until_up(f"http://127.0.0.1:{args.port}/login/", seconds=60, process=server)
        warm = build_pushes(server_url, 200, offset=10**6, create_time=at)
        asyncio.run(fire(warm, args.concurrency))  # warm-up, both
        asyncio.run(fire(to_bare(warm), args.concurrency))
        latencies, failures, elapsed = asyncio.run(fire(pushes, args.concurrency))
        # The yardstick, same run, same server, same bodies: a view that verifies nothing and inserts a row.
        bare_latencies, bare_failures, bare_elapsed = asyncio.run(fire(to_bare(pushes), args.concurrency))
        # WeChat's retries: the same payloads again with fresh signatures must change nothing
        retries = build_pushes(server_url, args.retries, create_time=at)
        _, retry_failures, _ = asyncio.run(fire(retries, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    stored = InboundMessage.objects.filter(account=account, openid__lt=f"oBench{10**6:022d}").count()
    retried = InboundMessage.objects.filter(account=account, times_received=2).count()
    result = {
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "events": args.events,
        "concurrency": args.concurrency,
        "gunicorn_workers": args.workers,
        "events_per_s": round(args.events / elapsed),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.mean(latencies) * 1000, 1),
        "failures": failures + retry_failures,
        "bare_django_eps": round(args.events / bare_elapsed),
        "bare_django_p99_ms": round(percentile(bare_latencies, 99) * 1000, 1),
        "bare_django_failures": bare_failures,
        "bare_django_rows": bare_django.stored() - 200,
        "ratio_callback": round(args.events / elapsed / (args.events / bare_elapsed), 3),
        "stored_once": stored == args.events,
        "duplicates_stored": max(0, stored - args.events),
        "lost": max(0, args.events - stored),
        "retries_counted": retried,
        "goal": {"events_per_s": GOAL_EVENTS_PER_S, "p99_ms": GOAL_P99_MS},
    }
    return result


if __name__ == "__main__":
    record("callback", main())
