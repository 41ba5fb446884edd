"""`make chaos`: sends under the faults a real installation meets, with the figures that say they survived.

    python -m benchmarks.chaos                      # every scenario, full size, into var/chaos/summary.json
    python -m benchmarks.chaos --scenario kill9     # one of them
    WXNOTIFY_CHAOS_SCALE=0.05 python -m benchmarks.chaos    # small

Each scenario runs in a process of its own on a throwaway database (PostgreSQL + Redis: DATABASE_URL and
REDIS_URL, or their usual local addresses; `--sqlite` for the embedded set-up) with its own simulator, the
web app under gunicorn (WeChat's delivery reports come back to its callback) and real `run_huey` worker
processes. For each: `duplicates` and `lost` (from the simulator's side: who received it twice, who never
did), `unknown` left and how many of those WeChat did deliver (its reports should have settled them), whether
the send finished by itself, the longest time nothing was settled and, for a restart, how long from the
outage to the first delivery settled after it. Scenarios: `kill9` (a random worker SIGKILLed at random
moments, restarted at once), `transient` (10 % of sends answer -1, HTTP 502 or time out, and the account's
token is invalidated mid-send), `campaign_error` (WeChat refuses the whole send mid-way; it halts within the
requests in flight, is fixed and resumed), `latency_quota` (slow answers with a 2 s tail, WeChat's per-minute
limit enforced), `two_accounts` (two hospitals at once, each at its own rate), `postgres_restart` and
`redis_restart` (the machine's own PostgreSQL / Redis restarted mid-send: run it where nothing else uses them;
WXNOTIFY_CHAOS_PG_RESTART / WXNOTIFY_CHAOS_REDIS_RESTART give another machine's commands), `web_restart` (the
web app's processes killed and reloaded while WeChat pushes delivery reports).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.seeding import ready_to_send  # noqa: E402
from wxsim.client import Simulator, wait_until_up  # noqa: E402

OUT = ROOT / "var" / "chaos"
PG = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SETTLED = "confirmed by WeChat"  # what a row settled by WeChat's report says (services._settle_from_report)


class Installation:
    """One installation on the throwaway database: wxsim, gunicorn, worker processes, and a send."""

    def __init__(self, *, workers: int, sim_port: int, web_port: int) -> None:
        self.sim = f"http://127.0.0.1:{sim_port}"
        self.web = f"http://127.0.0.1:{web_port}"
        self.env = dict(os.environ)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.worker_count = workers
        self.kills = 0
        self.simulator = self._spawn([sys.executable, "-m", "wxsim", "serve", "--port", str(sim_port)])
        self.wechat = Simulator(self.sim, timeout=600).wait_until_up(process=self.simulator)
        web = [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
        web += ["--bind", f"127.0.0.1:{web_port}", "--workers", "2", "--threads", "4", "--log-level", "error"]
        self.gunicorn = self._spawn(web)
        wait_until_up(self.web + "/login/", process=self.gunicorn)
        for _ in range(workers):
            self.start_worker()

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, cwd=ROOT, env=self.env)
        self.processes.append(process)
        return process

    def start_worker(self) -> None:
        self.workers.append(self._spawn([sys.executable, "manage.py", "run_huey", "--quiet"]))

    def kill_a_worker(self, rng: random.Random) -> None:
        """SIGKILL one worker (requests in flight, leases held) and start another in its place."""
        alive = [w for w in self.workers if w.poll() is None]
        victim = rng.choice(alive)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        self.workers.remove(victim)
        self.kills += 1
        self.start_worker()

    def restart_web(self, how: str, rng: random.Random) -> str:
        """`kill`: SIGKILL one of gunicorn's worker processes (its master starts another); `reload`: HUP the
        master (new workers, the old ones finish what they hold) — the socket stays open either way."""
        if how == "reload":
            os.kill(self.gunicorn.pid, signal.SIGHUP)
            return "reload"
        pid = self.gunicorn.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()  # Linux
        if not children:
            return "kill: no worker found"
        victim = int(rng.choice(children))
        os.kill(victim, signal.SIGKILL)
        return f"kill {victim}"

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def prepare(self, recipients: int, *, rate: int, n: int = 1) -> tuple[Any, str, str, list[str]]:
        """Hospital `n` (in WeChat and here, its callback on the web app) with `recipients` subscribers and a
        notification to them, ready to start."""
        appid = f"wxchaos000000000{n}"
        campaign, template_id, openids = ready_to_send(
            self.sim,
            appid=appid,
            secret=f"chaos-secret-{n}",
            original_id=f"gh_chaos0000{n}",
            recipients=recipients,
            rate=rate,
            callback_url=f"{self.web}/wechat/{appid}/callback",
        )
        return campaign, appid, template_id, openids

    def run(
        self, campaign: Any, *, timeout: float, during: Callable[[threading.Event], None] | None = None
    ) -> dict[str, Any]:
        """Start the send as the console does, let `during` make trouble until it ends, wait for it to end by
        itself (completed or halted); returns the times."""
        from wxnotify.campaigns import services
        from wxnotify.campaigns.models import Campaign

        stop = threading.Event()
        trouble = threading.Thread(target=during, args=(stop,), daemon=True) if during else None
        started = time.monotonic()
        services.start(campaign=campaign, user=None)
        if trouble:
            trouble.start()
        state: str = Campaign.State.SENDING
        while time.monotonic() - started < timeout:
            state = state_of(campaign) or state
            if state not in (Campaign.State.SENDING, Campaign.State.APPROVED):
                break
            time.sleep(0.5)
        stop.set()
        if trouble:
            trouble.join(timeout=60)
        return {"final_state": state, "seconds": round(time.monotonic() - started, 1)}

    def figures(self, campaign: Any, appid: str, template_id: str, recipients: int) -> dict[str, Any]:
        from wxnotify.callbacks.models import InboundMessage
        from wxnotify.campaigns import selectors
        from wxnotify.campaigns.models import Delivery

        began = time.monotonic()
        self.wechat.drain()  # WeChat's delivery reports, pushed to the callback
        drained = time.monotonic() - began
        time.sleep(2)
        received = self.wechat.received(appid, template_id=template_id, detail=1)
        got = set(received["counts"] or {})
        progress = selectors.progress(campaign)
        pushes = self.wechat.stats()["deliveries"]
        rows = dict(Delivery.objects.filter(campaign=campaign).values_list("openid", "state"))
        # Lost: a person the log says was sent who never got it, or one the send has no row for, or left pending.
        said_sent_not_received = sum(1 for o, s in rows.items() if s == Delivery.State.SENT and o not in got)
        unknown = [o for o, s in rows.items() if s == Delivery.State.UNKNOWN]
        return {
            "recipients": recipients,
            "duplicates": len(received["more_than_once"]),
            "lost": said_sent_not_received + (recipients - len(rows)) + progress["pending"] + progress["claimed"],
            "received": received["total"],
            "sent": progress["sent"],
            "failed": progress["failed"],
            # Unknown: the answer never came and no report settled it; how many of those WeChat did deliver.
            "unknown_left": len(unknown),
            "unknown_received": sum(1 for o in unknown if o in got),
            "settled_by_reports": Delivery.objects.filter(campaign=campaign, errmsg=SETTLED).count(),
            "kills": self.kills,
            # WeChat's delivery reports: pushed (first attempts), given up after its retries (the web app
            # answered none of them: down, or its database down), stored (each once, however often retried).
            "reports_pushed": pushes.get("delivered", 0) + pushes.get("undelivered", 0),
            "reports_given_up_by_wechat": pushes.get("undelivered", 0),
            "push_retries": pushes.get("retries", 0),
            "reports_stored": InboundMessage.objects.filter(event="subscribe_msg_sent_event").count(),
            "reports_drain_seconds": round(drained, 1),  # reports still on their way once the send ended
            "longest_standstill_seconds": standstill(campaign),
        }


def standstill(campaign: Any) -> float:
    """Recovery, as the operator sees it: the longest time in which no recipient's delivery was settled."""
    from wxnotify.campaigns.models import Delivery

    settled = Delivery.objects.filter(campaign=campaign, finished_at__isnull=False).order_by("finished_at")
    moments = [at for at in settled.values_list("finished_at", flat=True) if at is not None]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
    return round(max(gaps, default=0.0), 1)


def kill9(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    """A random worker SIGKILLed at random moments (10 times by default), restarted at once."""
    campaign, appid, template_id, _openids = inst.prepare(args.recipients, rate=args.rate)
    rng = random.Random(args.seed)
    expected = args.recipients / args.rate  # seconds the send takes at its rate

    def trouble(stop: threading.Event) -> None:
        moments = sorted(rng.uniform(0.05, 0.9) * expected for _ in range(args.kills))
        began = time.monotonic()
        for at in moments:
            if stop.wait(max(0.0, at - (time.monotonic() - began))):
                return
            inst.kill_a_worker(rng)

    times = inst.run(campaign, timeout=args.timeout, during=trouble)
    # What a kill may leave unknown (ARCHITECTURE.md): per engine its requests in flight, two start chunks
    # and a write chunk — 7 × the concurrency; a worker process may run both of the send's engines.
    bound = inst.kills * args.workers * 7 * concurrency()
    return times | {"unknown_bound": bound} | inst.figures(campaign, appid, template_id, args.recipients)


def transient(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    """10 % of sends fail for a passing reason (errcode -1, HTTP 502, a timeout), and a third of the way
    through the account's token stops working (40001): everyone is still reached exactly once."""
    campaign, appid, template_id, _openids = inst.prepare(args.recipients, rate=args.rate)
    path = "/cgi-bin/message/subscribe/bizsend"
    for fault in ({"errcode": -1, "errmsg": "system error"}, {"http_status": 502}, {"timeout": True}):
        inst.wechat.add_fault(path=path, rate=0.0333, **fault)

    def trouble(stop: threading.Event) -> None:
        if not stop.wait(args.recipients / args.rate / 3):
            inst.wechat.post(f"/_sim/accounts/{appid}/invalidate-token", {})

    times = inst.run(campaign, timeout=args.timeout, during=trouble)
    inst.wechat.clear_faults()
    return times | inst.figures(campaign, appid, template_id, args.recipients)


BIZSEND = "/cgi-bin/message/subscribe/bizsend"


def state_of(campaign: Any) -> str | None:
    """The send's state, or None while the database is away (a scenario restarts it)."""
    from django.db import InterfaceError, OperationalError, connection

    from wxnotify.campaigns.models import Campaign

    try:
        return str(Campaign.objects.get(pk=campaign.pk).state)
    except (OperationalError, InterfaceError):
        connection.close()
        return None


def wait_for(campaign: Any, states: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    state = state_of(campaign) or ""
    while state not in states and time.monotonic() < deadline:
        time.sleep(0.3)
        state = state_of(campaign) or state
    return state


def concurrency() -> int:
    from django.conf import settings

    return int(settings.WXNOTIFY_SEND_CONCURRENCY)


def campaign_error(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    """A third of the way through, WeChat starts refusing the whole send (40037, the template is gone): the
    send halts by itself within the requests in flight; the fault is fixed and the send resumed (as an
    operator would) and finishes, nobody reached twice."""
    from wxnotify.campaigns import services

    campaign, appid, template_id, _openids = inst.prepare(args.recipients, rate=args.rate)
    started = time.monotonic()
    services.start(campaign=campaign, user=None)
    time.sleep(args.recipients / args.rate / 3)
    refusal = {"path": BIZSEND, "rate": 1.0, "errcode": 40037, "errmsg": "invalid template_id"}
    inst.wechat.add_fault(**refusal)
    halted = wait_for(campaign, {"halted", "completed"}, args.timeout)
    refused = inst.wechat.stats()["calls"][BIZSEND].get("40037", 0)
    inst.wechat.clear_faults()
    campaign.refresh_from_db()
    stop_reason = campaign.stop_reason
    resumed_at = time.monotonic()
    if halted == "halted":
        services.resume(campaign=campaign, user=None)
    final = wait_for(campaign, {"completed", "halted", "cancelled"}, args.timeout)
    return {
        "final_state": final,
        "halted": halted == "halted",
        "halted_within": refused,  # requests WeChat refused before the send stopped itself
        "in_flight_limit": args.workers * concurrency(),
        "stop_reason": stop_reason,
        "recovery_seconds": round(time.monotonic() - resumed_at, 1),
        "seconds": round(time.monotonic() - started, 1),
    } | inst.figures(campaign, appid, template_id, args.recipients)


def latency_quota(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    """WeChat slow (most answers in 20–60 ms, 1 % around 2 s) and its per-minute limit enforced (45011): the
    send waits for the next minute instead of failing anyone."""
    campaign, appid, template_id, _openids = inst.prepare(args.recipients, rate=args.rate)
    inst.wechat.add_fault(path=BIZSEND, latency_ms={"uniform": [20, 60]})
    inst.wechat.add_fault(path=BIZSEND, rate=0.01, latency_ms={"normal": [2000, 200]})
    per_minute = max(200, args.recipients // 3)  # the send needs about three minutes of WeChat's limit
    inst.wechat.post("/_sim/quotas", {"per_minute": {BIZSEND: per_minute}})
    times = inst.run(campaign, timeout=args.timeout)
    stats = inst.wechat.stats()["calls"][BIZSEND]
    inst.wechat.clear_faults()
    return (
        times
        | {"per_minute_limit": per_minute, "answered_45011": stats.get("45011", 0)}
        | inst.figures(campaign, appid, template_id, args.recipients)
    )


def two_accounts(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    """Two hospitals send at once, each at its own rate (one at the full rate, one at a quarter)."""
    from django.db.models import Max, Min

    from wxnotify.accounts.models import OfficialAccount
    from wxnotify.campaigns import services
    from wxnotify.campaigns.models import Campaign, Delivery

    half = args.recipients // 2
    first = inst.prepare(half, rate=args.rate, n=1)
    second = inst.prepare(half, rate=max(1, args.rate // 4), n=2)
    started = time.monotonic()
    for campaign, *_rest in (first, second):
        services.start(campaign=campaign, user=None)
    states = [wait_for(c, {"completed", "halted"}, args.timeout) for c, *_rest in (first, second)]
    out: dict[str, Any] = {"final_state": "/".join(states), "seconds": round(time.monotonic() - started, 1)}
    totals = {"duplicates": 0, "lost": 0, "unknown_left": 0, "unknown_received": 0, "settled_by_reports": 0}
    for label, (campaign, appid, template_id, _openids) in zip(("a", "b"), (first, second), strict=True):
        figures = inst.figures(campaign, appid, template_id, half)
        for key in totals:
            totals[key] += figures[key]
        campaign = Campaign.objects.get(pk=campaign.pk)
        window = Delivery.objects.filter(campaign=campaign).aggregate(
            a=Min("attempt_started_at"), b=Max("attempt_started_at")
        )
        span = (window["b"] - window["a"]).total_seconds() if window["a"] and window["b"] else 0
        rate = OfficialAccount.objects.get(pk=campaign.account_id).send_rate
        out[f"rate_{label}"] = {"limit": rate, "achieved": round((figures["sent"] - 1) / span, 1) if span else None}
    return out | {"recipients": half * 2} | totals


def _shell(variable: str, default: str) -> float:
    """Run the restart command (overridable for another machine's service manager); how long it took."""
    command = os.environ.get(variable, default)
    began = time.monotonic()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S602
    return round(time.monotonic() - began, 1)


PG_RESTART = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart -m fast"
REDIS_RESTART = (
    "redis-cli -h 127.0.0.1 -p 6379 shutdown nosave; sleep 1; redis-server --daemonize yes --bind 127.0.0.1 -::1 "
    '--port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log; '
    "until redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; do sleep 0.1; done"
)


def _restarted(inst: Installation, args: argparse.Namespace, variable: str, default: str) -> dict[str, Any]:
    """A third of the way through the send, a service goes down and comes back (with whatever it forgets)."""
    campaign, appid, template_id, _openids = inst.prepare(args.recipients, rate=args.rate)
    outage: dict[str, float] = {}

    def trouble(stop: threading.Event) -> None:
        if not stop.wait(args.recipients / args.rate / 3):
            outage["began"] = time.time()
            outage["seconds"] = _shell(variable, default)

    times = inst.run(campaign, timeout=args.timeout, during=trouble)
    figures = inst.figures(campaign, appid, template_id, args.recipients)
    return times | {"outage_seconds": outage.get("seconds"), "recovery_seconds": recovery(campaign, outage)} | figures


def recovery(campaign: Any, outage: dict[str, float]) -> float | None:
    """From the moment the service went down to the first delivery settled after it was back."""
    from datetime import UTC, datetime

    from wxnotify.campaigns.models import Delivery

    if "began" not in outage:
        return None
    back = datetime.fromtimestamp(outage["began"] + outage["seconds"], tz=UTC)
    first = (
        Delivery.objects.filter(campaign=campaign, finished_at__gte=back)
        .order_by("finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return round(first.timestamp() - outage["began"], 1) if first else None


def postgres_restart(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    """PostgreSQL restarted mid-send (every connection cut, a few seconds refused): the engines wait for it
    and go on (WXNOTIFY_DB_OUTAGE_SECONDS), the web app reconnects."""
    if args.sqlite:
        return {"final_state": "not applicable (SQLite)"}
    return _restarted(inst, args, "WXNOTIFY_CHAOS_PG_RESTART", PG_RESTART)


def redis_restart(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    """Redis restarted mid-send without saving (the queue's messages and the rate limit's state gone): the
    engines wait for their rate limit and go on; what the queue forgot, the deliveries table still says."""
    if args.sqlite:
        return {"final_state": "not applicable (SQLite)"}
    return _restarted(inst, args, "WXNOTIFY_CHAOS_REDIS_RESTART", REDIS_RESTART)


def web_restart(inst: Installation, args: argparse.Namespace) -> dict[str, Any]:
    """While WeChat pushes the send's delivery reports, the web app is restarted: one of its processes
    SIGKILLed (requests cut mid-way), a graceful reload (HUP), another killed. WeChat retries what got no
    answer; every report it delivered is stored once (`times_received` counts its retries)."""
    from wxnotify.callbacks.models import InboundMessage

    campaign, appid, template_id, _openids = inst.prepare(args.recipients, rate=args.rate)
    rng = random.Random(args.seed)
    expected = args.recipients / args.rate
    events: list[str] = []

    def trouble(stop: threading.Event) -> None:
        for at, what in ((0.3, "kill"), (0.5, "reload"), (0.7, "kill")):
            if stop.wait(max(0.0, at * expected - (time.monotonic() - began))):
                return
            events.append(inst.restart_web(what, rng))

    began = time.monotonic()
    times = inst.run(campaign, timeout=args.timeout, during=trouble)
    figures = inst.figures(campaign, appid, template_id, args.recipients)
    retried = InboundMessage.objects.filter(event="subscribe_msg_sent_event", times_received__gt=1)
    return times | {"web_restarts": events, "reports_retried_stored_once": retried.count()} | figures


SCENARIOS: dict[str, Callable[[Installation, argparse.Namespace], dict[str, Any]]] = {
    "kill9": kill9,
    "transient": transient,
    "campaign_error": campaign_error,
    "latency_quota": latency_quota,
    "two_accounts": two_accounts,
    "postgres_restart": postgres_restart,
    "redis_restart": redis_restart,
    "web_restart": web_restart,
}


# Each scenario's size and send rate unless --recipients / --rate say otherwise (the size times
# WXNOTIFY_CHAOS_SCALE): the 100,000 for the kills; the others as large as shows their fault within
# the run's twenty minutes; the restarts at the product's default rate, so the outage falls mid-send.
SIZES = {
    "kill9": (100_000, 2_000),
    "transient": (10_000, 2_000),
    "campaign_error": (10_000, 2_000),
    "latency_quota": (5_000, 2_000),
    "two_accounts": (10_000, 2_000),
    "postgres_restart": (10_000, 500),
    "redis_restart": (10_000, 500),
    "web_restart": (10_000, 500),
}


def one(args: argparse.Namespace) -> dict[str, Any]:
    """One scenario on a throwaway database of its own."""
    size, rate = SIZES[args.scenario]
    args.recipients = args.recipients or max(1_000, int(size * float(os.environ.get("WXNOTIFY_CHAOS_SCALE", "1"))))
    args.rate = args.rate or rate
    os.environ.update(
        {
            "WECHAT_API_BASE_URL": f"http://127.0.0.1:{args.sim_port}",
            "WXNOTIFY_SEND_RATE": str(args.rate),
            "WXNOTIFY_SEND_WORKERS": str(args.workers),
            "WXNOTIFY_QUEUE_NAME": f"chaos-{args.scenario}-{os.getpid()}",
            "WXNOTIFY_LOG_LEVEL": "WARNING",
            "WXNOTIFY_SEND_LEASE_SECONDS": "20",
        }
    )
    if not args.sqlite:
        os.environ["REDIS_URL"] = REDIS
        os.environ["DATABASE_URL"] = PG
    from benchmarks.throwaway import throwaway_database

    with throwaway_database(postgres=not args.sqlite, prefix=f"chaos-{args.scenario}"):
        inst = Installation(workers=args.workers, sim_port=args.sim_port, web_port=args.web_port)
        try:
            result = SCENARIOS[args.scenario](inst, args)
        finally:
            inst.close()
    where = "sqlite" if args.sqlite else "postgresql+redis"
    return {"scenario": args.scenario, "database": where, "rate": args.rate} | result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="run this one and print its figures")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="the summary of these, not all")
    parser.add_argument("--recipients", type=int, help="every scenario's size (default: its own, see SIZES)")
    parser.add_argument("--rate", type=int, help="sends per second (default: the scenario's own)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--sim-port", type=int, default=8191)
    parser.add_argument("--web-port", type=int, default=8192)
    args = parser.parse_args()
    if args.scenario:
        result = one(args)
        print(json.dumps(result, ensure_ascii=False, indent=2))
        if target := os.environ.get("WXNOTIFY_CHAOS_RESULT"):
            Path(target).write_text(json.dumps(result, ensure_ascii=False))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    passed_on = [a for a in sys.argv[1:] if a not in ("--only", *SCENARIOS)]  # --only and its names are for this run
    for name in args.only or SCENARIOS:
        result_file = Path(tempfile.mkstemp(prefix=f"chaos-{name}-", suffix=".json")[1])
        command = [sys.executable, "-m", "benchmarks.chaos", "--scenario", name, *passed_on]
        print(f"· {name}", flush=True)
        with (OUT / f"{name}.log").open("w") as log:
            env = os.environ | {"WXNOTIFY_CHAOS_RESULT": str(result_file)}
            subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        text = result_file.read_text()
        result_file.unlink()
        results[name] = json.loads(text) if text else {"error": f"see {OUT / (name + '.log')}"}
    (OUT / "summary.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    table = render(results)
    (OUT / "summary.txt").write_text(table)
    print(table)
    return 1 if any(missed(r) for r in results.values()) else 0


COLUMNS = {  # figure: its heading in the table
    "final_state": "finished",
    "seconds": "seconds",
    "recipients": "recipients",
    "duplicates": "duplicates",
    "lost": "lost",
    "unknown_left": "unknown",
    "unknown_received": "unknown+delivered",
    "settled_by_reports": "settled by reports",
    "reports_given_up_by_wechat": "reports given up",
    "halted_within": "halted within",
    "longest_standstill_seconds": "longest standstill s",
    "recovery_seconds": "recovery s",
}


def render(results: dict[str, dict[str, Any]]) -> str:
    """The readable table: a row per scenario, then what each missed of its goals."""
    rows = [["scenario", *COLUMNS.values()]]
    rows += [
        [name, *(str(r.get(c, "—") if r.get(c) is not None else "—") for c in COLUMNS)] for name, r in results.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    misses = [f"{name}: {miss}" for name, r in results.items() for miss in missed(r)]
    lines += [
        "",
        *(
            misses
            or ["every goal met: duplicates 0, lost 0, unknown settled where WeChat delivered, every send finished"]
        ),
    ]
    return "\n".join(lines) + "\n"


def missed(result: dict[str, Any]) -> list[str]:
    """The issue's goals this scenario missed."""
    if result.get("error"):
        return [str(result["error"])]
    if str(result.get("final_state", "")).startswith("not applicable"):
        return []
    misses = [f"{key} {result[key]}" for key in ("duplicates", "lost", "unknown_received") if result.get(key)]
    if any(state != "completed" for state in str(result.get("final_state")).split("/")):
        misses.append(f"ended {result.get('final_state')}, not completed")
    if result.get("unknown_bound") is not None and result.get("unknown_left", 0) > result["unknown_bound"]:
        misses.append(f"unknown {result['unknown_left']} > {result['unknown_bound']} that can be in flight")
    if result.get("halted_within") is not None and result["halted_within"] > result.get("in_flight_limit", 0):
        misses.append(f"halted within {result['halted_within']} > {result.get('in_flight_limit')} in flight")
    return misses


if __name__ == "__main__":
    raise SystemExit(main())
