"""How many valid bizsend requests one wxsim process answers per second (goal ≥ 12,000 on loopback).

`python -m benchmarks.wxsim_bizsend [--seconds 10] [--connections 64]` starts `wxsim serve`, gives a
long-term template to 2,000 subscribed patients, takes a token, and points wrk (Debian's package) at
bizsend with a Lua script that cycles through the patients. Every answer must be errcode 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.summary import record
from wxsim.client import Simulator

ROOT = Path(__file__).resolve().parent.parent
GOAL = 12_000


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=8177)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    base = f"http://127.0.0.1:{args.port}"
    # One core each for the simulator and for wrk, so neither steals the other's (this machine has two).
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else []
    wrk_pin = ["taskset", "-c", "0"] if pin else []
    server = subprocess.Popen([*pin, sys.executable, "-m", "wxsim", "serve", "--port", str(args.port)], cwd=ROOT)
    try:
        wechat = Simulator(base).wait_until_up(process=server)
        appid, secret = "wxbench0000000002", "bench-secret"
        wechat.put_account(appid=appid, secret=secret, original_id="gh_bench2", token="t")
        template = wechat.add_template(appid, 5006, [1, 2, 3])["priTmplId"]
        openids = wechat.add_patients(appid, 2000, credits={template: 1})
        token = wechat.access_token(appid, secret)
        bodies = [
            json.dumps(
                {
                    "touser": o,
                    "template_id": template,
                    "data": {
                        "name1": {"value": "张三"},
                        "time2": {"value": "2026年12月3日 09:30"},
                        "thing3": {"value": "内分泌科复诊"},
                    },
                },
                ensure_ascii=False,
            )
            for o in openids
        ]
        script = Path(tempfile.mkdtemp()) / "bizsend.lua"
        script.write_text(
            "local bodies = {" + ",".join("[[" + b + "]]" for b in bodies) + "}\n"
            "local i = 0\n"
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            "request = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, nil, nil, bodies[i])\nend\n",
            encoding="utf-8",
        )
        url = f"{base}/cgi-bin/message/subscribe/bizsend?access_token={token}"
        output = subprocess.run(
            [
                *wrk_pin,
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        stats = wechat.stats()["calls"].get("/cgi-bin/message/subscribe/bizsend", {})
    finally:
        server.terminate()
        server.wait(timeout=10)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+\w+)", output)
    return {
        "requests_per_s": round(rps),
        "p99": p99.group(1) if p99 else None,
        "answers_by_errcode": stats,
        "all_ok": set(stats) == {"0"},
        "goal_requests_per_s": GOAL,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "command": "python -m benchmarks.wxsim_bizsend",
        "cpu_count": os.cpu_count(),
    }


if __name__ == "__main__":
    record("wxsim_bizsend", main())
