"""The JSON API under load, against a bare view on the same server: what a booking system's polling costs.

`python -m benchmarks.api_calls [--calls N] [--creates M] [--concurrency C]` starts gunicorn on a throwaway
database (SQLite, or DATABASE_URL's server) with the bare view beside the product (benchmarks.bare_settings)
and measures, side by side in one run:

- GET /api/v1/campaigns/{id} (token check, rate limit, scopes, live counts, audit row per call) against
  GET /bench/bare-json/{id} (one read of the same campaign row, as JSON; no token, nothing written):
  calls/s, p50 / p99 and `ratio_api` = API / bare;
- POST /api/v1/campaigns, M distinct Idempotency-Keys, then each key sent again: every retry must get the
  first answer back (`replayed`) and create nothing (`duplicates` = notifications beyond M).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.callback_throughput import percentile
from benchmarks.summary import record
from wxsim.client import wait_until_up

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


Call = tuple[str, str, dict[str, str], bytes | None]


async def fire(
    requests: Sequence[Call], concurrency: int
) -> tuple[list[float], dict[int, int], list[tuple[int, bytes, bool]], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answers: list[tuple[int, bytes, bool]] = []
    queue = iter(requests)

    async def worker(session: aiohttp.ClientSession) -> None:
        for method, url, headers, body in queue:
            start = time.perf_counter()
            async with session.request(method, url, headers=headers, data=body) as response:
                content = await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
                answers.append((response.status, content, response.headers.get("Idempotent-Replayed") == "true"))
            latencies.append(time.perf_counter() - start)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return latencies, statuses, answers, time.perf_counter() - began


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8124)
    args = parser.parse_args()
    from benchmarks.throwaway import throwaway_database

    with throwaway_database(postgres=bool(os.environ.get("DATABASE_URL")), prefix="api") as var_dir:
        return measure(args, var_dir)


def measure(args: argparse.Namespace, var_dir: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from wxnotify.accounts.models import Membership, OfficialAccount
    from wxnotify.api import tokens
    from wxnotify.campaigns.models import Campaign, DeliveryTally
    from wxnotify.subscriptions.models import Activity, Template
    from wxnotify.subscriptions.services import parse_keywords

    account = OfficialAccount.objects.create(
        name="bench",
        appid="wxbenchapi0000001",
        original_id="gh_benchapi00001",
        app_secret="s" * 32,
        callback_token="benchtoken",
        encoding_aes_key="kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
        message_mode="safe",
    )
    user = get_user_model().objects.create_user("bench-api")
    Membership.objects.create(user=user, account=account, role="administrator")
    content = "疫苗名称:{{thing1.DATA}}\n到货时间:{{date2.DATA}}\n"
    template = Template.objects.create(
        account=account,
        template_id="TPL_BENCH",
        title="疫苗到货",
        content=content,
        kind=Template.Kind.ONE_TIME,
        keywords=parse_keywords(content),
    )
    activity = Activity.objects.create(
        account=account, title="九价到货", kind="vaccine", starts_at=timezone.now() + timedelta(days=3)
    )
    activity.templates.set([template])
    campaign = Campaign.objects.create(
        account=account,
        template=template,
        name="bench",
        audience="activity",
        activity=activity,
        state="sending",
        started_at=timezone.now(),
    )
    DeliveryTally.objects.bulk_create(
        [DeliveryTally(campaign=campaign, state=s, n=n) for s, n in (("sent", 120_000), ("pending", 30_000))]
    )
    _t, text = tokens.issue(account=account, name="bench", scopes=["read", "write", "send"], user=user)
    env = os.environ | {
        "WXNOTIFY_VAR_DIR": var_dir,
        "WXNOTIFY_LOG_LEVEL": "ERROR",
        "WXNOTIFY_API_RATE": "100000000/60",  # the limit is not what is measured
        "DJANGO_SETTINGS_MODULE": "benchmarks.bare_settings",
    }
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
    command += ["--bind", f"127.0.0.1:{args.port}", "--workers", str(args.workers), "--log-level", "error"]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{args.port}"
    auth = {"Authorization": f"Bearer {text}"}
    try:
        wait_until_up(f"{base}/login/", seconds=60, process=server)
        api: list[Call] = [("GET", f"{base}/api/v1/campaigns/{campaign.pk}", auth, None)] * args.calls
        bare: list[Call] = [("GET", f"{base}/bench/bare-json/{campaign.pk}", {}, None)] * args.calls
        asyncio.run(fire(api[:200], args.concurrency))  # warm-up, both
        asyncio.run(fire(bare[:200], args.concurrency))
        api_lat, api_status, _a, api_elapsed = asyncio.run(fire(api, args.concurrency))
        bare_lat, bare_status, _b, bare_elapsed = asyncio.run(fire(bare, args.concurrency))

        def create(i: int) -> Call:
            body = {
                "name": f"到货通知 {i}",
                "template": "TPL_BENCH",
                "audience": "activity",
                "activity": activity.pk,
                "fields": {"thing1": "九价HPV疫苗", "date2": "2026年12月20日"},
            }
            headers = auth | {"Content-Type": "application/json", "Idempotency-Key": f"order-{i}"}
            return ("POST", f"{base}/api/v1/campaigns", headers, json.dumps(body).encode())

        creates = [create(i) for i in range(args.creates)]
        first_lat, first_status, firsts, first_elapsed = asyncio.run(fire(creates, args.concurrency))
        _r, retry_status, retries, _e = asyncio.run(fire(creates, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    made = Campaign.objects.filter(account=account).exclude(pk=campaign.pk).count()
    first_by_key = {json.loads(body)["name"]: body for status, body, _ in firsts if status == 201}
    same = sum(
        1 for status, body, replayed in retries if replayed and first_by_key.get(json.loads(body)["name"]) == body
    )
    return {
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "gunicorn_workers": args.workers,
        "concurrency": args.concurrency,
        "calls": args.calls,
        "api_calls_per_s": round(args.calls / api_elapsed),
        "api_p50_ms": round(percentile(api_lat, 50) * 1000, 1),
        "api_p99_ms": round(percentile(api_lat, 99) * 1000, 1),
        "api_statuses": api_status,
        "bare_json_per_s": round(args.calls / bare_elapsed),
        "bare_json_p99_ms": round(percentile(bare_lat, 99) * 1000, 1),
        "bare_statuses": bare_status,
        "ratio_api": round(bare_elapsed / api_elapsed, 3),
        "creates": args.creates,
        "creates_per_s": round(args.creates / first_elapsed),
        "create_p99_ms": round(percentile(first_lat, 99) * 1000, 1),
        "create_statuses": first_status,
        "retry_statuses": retry_status,
        "replayed_same_answer": same,
        "duplicates": max(0, made - args.creates),
        "lost": max(0, args.creates - made),
    }


if __name__ == "__main__":
    record("api", main())
