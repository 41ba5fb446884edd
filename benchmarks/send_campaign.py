"""A campaign to N subscribers on the simulator, sent by real worker processes; reports time and sends/s.

`python -m benchmarks.send_campaign [--recipients 100000] [--workers 2]` uses a throwaway SQLite database
(or DATABASE_URL, with REDIS_URL for the queue and the shared rate limit), `wxsim serve` in its own
process, and `manage.py run_huey` worker processes. Checks exactly-once from the simulator's side.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.simhttp import call, wait_up
from benchmarks.summary import record

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--rate", type=int, default=100_000, help="per-account sends/s limit (high: measure the engine)"
    )
    parser.add_argument("--sim-port", type=int, default=8178)
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="wxnotify-bench-send-")
    sim = f"http://127.0.0.1:{args.sim_port}"
    env = os.environ | {
        "WXNOTIFY_VAR_DIR": var_dir,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "WECHAT_API_BASE_URL": sim,
        "WXNOTIFY_SEND_CONCURRENCY": str(args.concurrency),
        "WXNOTIFY_SEND_RATE": str(args.rate),
        "WXNOTIFY_SEND_WORKERS": str(args.workers),
        "WXNOTIFY_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from wxnotify.accounts.models import OfficialAccount
    from wxnotify.campaigns import selectors, services
    from wxnotify.campaigns.models import Campaign
    from wxnotify.subscriptions.models import Subscription, Template
    from wxnotify.subscriptions.services import parse_keywords

    call_command("migrate", verbosity=0)
    simulator = subprocess.Popen(
        [sys.executable, "-m", "wxsim", "serve", "--port", str(args.sim_port)], cwd=ROOT, env=env
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_up(sim + "/_sim/stats")
        appid, secret = "wxbench0000000003", "bench-secret-3"
        call(
            sim,
            "POST",
            "/_sim/accounts",
            {"appid": appid, "secret": secret, "original_id": "gh_bench3", "token": "benchtoken"},
        )
        tpl = call(sim, "POST", f"/_sim/accounts/{appid}/templates", {"tid": 5004, "kid_list": [1, 2, 3, 5]})
        openids = call(
            sim,
            "POST",
            f"/_sim/accounts/{appid}/patients",
            {"count": args.recipients, "credits": {tpl["priTmplId"]: 1}},
        )["openids"]
        account = OfficialAccount.objects.create(
            name="bench",
            appid=appid,
            original_id="gh_bench3",
            app_secret=secret,
            callback_token="benchtoken",
            message_mode="plaintext",
        )
        template = Template.objects.create(
            account=account,
            template_id=tpl["priTmplId"],
            title=tpl["title"],
            content=tpl["content"],
            kind=Template.Kind.ONE_TIME,
            keywords=parse_keywords(tpl["content"]),
        )
        Subscription.objects.bulk_create(
            [Subscription(account=account, template=template, openid=o, credits=1) for o in openids], batch_size=5000
        )
        campaign = Campaign.objects.create(
            account=account,
            name="bench",
            template=template,
            audience=Campaign.Audience.TEMPLATE,
            data={
                "thing1": "九价HPV疫苗",
                "date2": "2026年12月1日",
                "thing3": "预防接种门诊",
                "thing5": "点击卡片立即预约",
            },
        )
        workers = [
            subprocess.Popen([sys.executable, "manage.py", "run_huey", "--workers", "1", "--quiet"], cwd=ROOT, env=env)
            for _ in range(args.workers)
        ]
        time.sleep(2)  # workers up
        started = time.perf_counter()
        materialise_started = time.perf_counter()
        n = services.start(campaign=campaign, user=None, workers=args.workers)  # enqueues one task per worker
        materialised = time.perf_counter() - materialise_started
        while Campaign.objects.get(pk=campaign.pk).state == Campaign.State.SENDING:
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        state = Campaign.objects.get(pk=campaign.pk).state
        received = call(sim, "GET", f"/_sim/accounts/{appid}/received?template_id={tpl['priTmplId']}")
        progress = selectors.progress(campaign)
    finally:
        for w in workers:
            w.terminate()
        simulator.terminate()
        for p in [*workers, simulator]:
            p.wait(timeout=30)
    return {
        "recipients": n,
        "workers": args.workers,
        "concurrency_per_worker": args.concurrency,
        "database": os.environ.get("DATABASE_URL", "sqlite").split("@")[-1],
        "queue": "redis" if os.environ.get("REDIS_URL") else "sqlite",
        "final_state": state,
        "seconds": round(elapsed, 1),
        "audience_materialisation_seconds": round(materialised, 2),
        "sends_per_s": round(progress["sent"] / elapsed),
        "sent": progress["sent"],
        "duplicates": len(received["more_than_once"]),
        "lost": n - received["total"],
        "command": "python -m benchmarks.send_campaign",
    }


if __name__ == "__main__":
    record("send_campaign", main())
