"""A campaign to N subscribers on the simulator, sent by real worker processes; reports time and sends/s.

`python -m benchmarks.send_campaign [--recipients 30000] [--processes 2] [--threads 1] [--postgres]`
makes a throwaway database (SQLite; with --postgres one created on DATABASE_URL's server and dropped after,
with REDIS_URL for the queue and the shared rate limit when set), starts `wxsim serve` in its own process
and `manage.py run_huey` worker processes (`--threads` engines each: the embedded set-up is one process
with several), starts the send as the console does and waits for it to complete. Reports the audience's
materialisation time, sends/s, the achieved rate against `--rate`, the workers' peak RSS, and checks
exactly-once from the simulator's side (duplicates, lost).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.seeding import ready_to_send  # noqa: E402
from benchmarks.summary import record  # noqa: E402
from benchmarks.throwaway import throwaway_database  # noqa: E402
from wxsim.client import Simulator  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), read before it is stopped."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=30_000)
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=1, help="engines per worker process (threads)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight per engine")
    parser.add_argument("--rate", type=int, default=100_000, help="per-account sends/s (high: measure the engine)")
    parser.add_argument("--postgres", action="store_true", help="on DATABASE_URL's server (default: SQLite)")
    parser.add_argument("--sim-port", type=int, default=8178)
    args = parser.parse_args()
    # Before Django is set up: this process enqueues the send, on the workers' queue and with their numbers.
    os.environ.update(
        {
            "WECHAT_API_BASE_URL": f"http://127.0.0.1:{args.sim_port}",
            "WXNOTIFY_SEND_CONCURRENCY": str(args.concurrency),
            "WXNOTIFY_SEND_RATE": str(args.rate),
            "WXNOTIFY_SEND_WORKERS": str(args.processes * args.threads),
            "WXNOTIFY_WORKER_THREADS": str(args.threads),
            "WXNOTIFY_QUEUE_NAME": f"bench-send-{os.getpid()}",  # a Redis queue of its own
            "WXNOTIFY_LOG_LEVEL": "WARNING",
        }
    )
    with throwaway_database(postgres=args.postgres, prefix="send"):
        return measure(args)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.db.models import Max, Min

    from wxnotify.campaigns import selectors, services
    from wxnotify.campaigns.models import Campaign, Delivery

    sim, env = os.environ["WECHAT_API_BASE_URL"], dict(os.environ)  # the workers get the throwaway database's
    simulator = subprocess.Popen([sys.executable, "-m", "wxsim", "serve", "--port", str(args.sim_port)], cwd=ROOT)
    workers: list[subprocess.Popen[bytes]] = []
    rss: list[float] = []
    try:
        Simulator(sim).wait_until_up(process=simulator)
        appid = "wxbench0000000003"
        campaign, template_id, _openids = ready_to_send(
            sim,
            appid=appid,
            secret="bench-secret-3",
            original_id="gh_bench3",
            recipients=args.recipients,
            rate=args.rate,
        )
        command = [sys.executable, "manage.py", "run_huey", "--workers", str(args.threads), "--quiet"]
        workers = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(args.processes)]
        time.sleep(3)  # workers up
        started = time.perf_counter()
        n = services.start(campaign=campaign, user=None)  # materialises, then enqueues one task per engine
        materialised = time.perf_counter() - started
        while Campaign.objects.get(pk=campaign.pk).state == Campaign.State.SENDING:
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        rss = [peak_rss_mb(w.pid) for w in workers]
        campaign.refresh_from_db()
        window = Delivery.objects.filter(campaign=campaign).aggregate(
            first=Min("attempt_started_at"), last=Max("attempt_started_at")
        )
        received = Simulator(sim).received(appid, template_id=template_id)
        progress = selectors.progress(campaign)
    finally:
        for w in workers:
            w.terminate()
        simulator.terminate()
        for p in [*workers, simulator]:
            p.wait(timeout=30)
    assert campaign.started_at is not None and campaign.finished_at is not None
    sending = (campaign.finished_at - campaign.started_at).total_seconds()  # from the start to the last answer
    requests = (window["last"] - window["first"]).total_seconds()  # from the first request to the last
    return {
        "recipients": n,
        "worker_processes": args.processes,
        "engines_per_process": args.threads,
        "concurrency_per_engine": args.concurrency,
        "database": "postgresql" if args.postgres else "sqlite",
        "queue": "redis" if os.environ.get("REDIS_URL") else "sqlite",
        "final_state": campaign.state,
        "seconds": round(elapsed, 2),  # end to end: materialise, wake a worker, send, write back
        "materialise_seconds": round(materialised, 2),
        "sends_per_s": round(progress["sent"] / sending),
        "rate_limit": args.rate,
        # The limiter's own figure: requests per second between the first and the last (a worker picking the
        # send up late does not count against it).
        "achieved_rate": round((progress["sent"] - 1) / requests, 1) if requests else None,
        "sent": progress["sent"],
        "not_sent": {k: v for k, v in progress.items() if k not in ("sent", "total") and v},
        "worker_peak_rss_mb": round(max(rss, default=0), 1),
        "duplicates": len(received["more_than_once"]),
        "lost": n - received["total"],
    }


if __name__ == "__main__":
    record("send_campaign", main())
