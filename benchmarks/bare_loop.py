"""The ceiling a sender can reach on this machine: an aiohttp loop sending valid bizsend requests to the
simulator with no database at all — what the engine is measured against (`ratio = engine / bare loop`).

`python -m benchmarks.bare_loop [--recipients 30000] [--concurrency 64]` starts `wxsim serve`, gives it
an account, a template and N patients with one credit each, and sends one notification to each of them
from one process at the given concurrency. Also `peer_rps`: what the usual in-house script does — a
sequential `requests` loop that saves each answer with the ORM (one row per send).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wxsim.client import Simulator  # noqa: E402

DATA = {"thing1": "九价HPV疫苗", "date2": "2026年12月1日", "thing3": "预防接种门诊", "thing5": "点击卡片立即预约"}


@contextmanager
def simulator(port: int, *, cpu: int | None = None) -> Iterator[str]:
    """`wxsim serve` in its own process (pinned to `cpu` when given, as the wrk benchmark does)."""
    command = [sys.executable, "-m", "wxsim", "serve", "--port", str(port)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    process = subprocess.Popen(command, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        Simulator(base).wait_until_up(process=process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def prepare(sim: str, recipients: int, *, appid: str = "wxbare00000000001") -> dict[str, Any]:
    """An account, the vaccine template and `recipients` patients with one credit each; a token."""
    secret = "bare-secret"
    wechat = Simulator(sim, timeout=600)
    wechat.put_account(appid=appid, secret=secret, original_id="gh_bare1", token="t")
    template = wechat.add_template(appid, 5004, [1, 2, 3, 5])
    openids = wechat.add_patients(appid, recipients, credits={template["priTmplId"]: 1})
    token = wechat.post("/cgi-bin/stable_token", {"grant_type": "client_credential", "appid": appid, "secret": secret})
    return {
        "appid": appid,
        "secret": secret,
        "template_id": template["priTmplId"],
        "openids": openids,
        "token": token["access_token"],
    }


async def bare_loop(sim: str, world: dict[str, Any], concurrency: int) -> dict[str, Any]:
    url = f"{sim}/cgi-bin/message/subscribe/bizsend?access_token={world['token']}"
    queue = iter(world["openids"])
    ok = errors = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal ok, errors
        for openid in queue:
            body = orjson.dumps(
                {
                    "touser": openid,
                    "template_id": world["template_id"],
                    "data": {k: {"value": v} for k, v in DATA.items()},
                }
            )
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                answer = orjson.loads(await response.read())
            if answer.get("errcode") == 0:
                ok += 1
            else:
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"sends": ok, "errors": errors, "seconds": round(elapsed, 2), "rps": round(ok / elapsed)}


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--port", type=int, default=8179)
    args = parser.parse_args()
    with simulator(args.port) as sim:
        world = prepare(sim, args.recipients)
        result = asyncio.run(bare_loop(sim, world, args.concurrency))
    return {"recipients": args.recipients, "concurrency": args.concurrency, "bare_loop_rps": result["rps"], **result}


if __name__ == "__main__":
    from benchmarks.summary import record

    record("bare_loop", main())
