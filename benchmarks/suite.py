"""`make bench`: every benchmark in one go, side by side on this machine, into `var/bench/summary.json` (the
keys below, then each run's details) and a readable table.

    python -m benchmarks.suite              # the full sizes (30,000-recipient sends, one of 300,000 …)
    WXNOTIFY_BENCH_SCALE=0.02 python -m benchmarks.suite    # everything smaller (CI: exactly-once only)

Each measurement runs in a process of its own on a throwaway database (SQLite, or a database created on
DATABASE_URL's PostgreSQL server and dropped after) with its own simulator; PostgreSQL runs use Redis
(REDIS_URL) for the queue and the shared rate limit. Every process's output goes to var/bench/logs/; a
traceback in any of them is counted (`tracebacks`) and makes the run fail, as do duplicates or lost sends.
Only ratios measured in the same run mean anything: machines differ (see README).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
LOGS = OUT / "logs"
PG = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

GOALS = {  # key: (comparison, target) as issue 11 sets them
    "ratio_pg": (">=", 0.80),
    "ratio_sqlite": (">=", 0.80),
    "vs_peer": (">=", 10),
    "materialize_300k_s": ("<=", 3),
    "worker_peak_rss_mb": ("<=", 250),
    "ratio_callback": (">=", 0.90),
    "callback_p99_ms": ("<=", 100),
    "duplicates": ("==", 0),
    "lost": ("==", 0),
    "tracebacks": ("==", 0),
}


def run(name: str, module: str, *args: str, postgres: bool = False, redis: bool = False) -> dict[str, Any]:
    """One benchmark in its own process; its result, read from the file it writes."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    if postgres:
        env["DATABASE_URL"] = PG
    if redis:
        env["REDIS_URL"] = REDIS
    result_file = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".json")[1])
    env |= {"WXNOTIFY_BENCH_RESULT": str(result_file), "WXNOTIFY_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", module, *args]
    print(f"· {name}: {' '.join(command[2:])}", flush=True)
    started = time.perf_counter()
    with (LOGS / f"{name}.log").open("w") as log:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0 or not result_file.read_text():
        raise SystemExit(f"{name} failed (exit {done.returncode}): see {LOGS / (name + '.log')}")
    result = json.loads(result_file.read_text())
    result_file.unlink()
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["command"] = f"python -m {module} {' '.join(args)}".strip()
    return result


def main() -> int:
    scale = float(os.environ.get("WXNOTIFY_BENCH_SCALE", "1"))
    n = max(500, int(30_000 * scale))  # a send, and the bare loop's
    big = max(1_000, int(300_000 * scale))  # "300k"
    peer = max(200, int(3_000 * scale))
    rate_n = max(300, int(10_000 * scale))  # at 1,000/s: ten seconds of sending
    events = max(300, int(6_000 * scale))
    # The statistics: 1 million taps here (the 10 million: `python -m benchmarks.stats_pages`, ~10 min).
    taps = max(20_000, int(1_000_000 * scale))
    OUT.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):
        old.unlink()
    began = time.perf_counter()
    send = "benchmarks.send_campaign"
    runs = {
        "bare_loop": run("bare_loop", "benchmarks.bare_loop", "--recipients", str(n), "--concurrency", "64"),
        "peer": run("peer", "benchmarks.peer", "--recipients", str(peer), "--postgres", postgres=True),
        "engine_sqlite_1w": run("engine_sqlite_1w", send, "--recipients", str(n), "--processes", "1"),
        "engine_sqlite_2w": run("engine_sqlite_2w", send, "--recipients", str(n), "--processes", "2"),
        "engine_pg_1w": run(
            "engine_pg_1w", send, "--recipients", str(n), "--processes", "1", "--postgres", postgres=True, redis=True
        ),
        "engine_pg_2w": run(
            "engine_pg_2w", send, "--recipients", str(n), "--processes", "2", "--postgres", postgres=True, redis=True
        ),
        "send_300k": run(
            "send_300k", send, "--recipients", str(big), "--processes", "2", "--postgres", postgres=True, redis=True
        ),
        # The embedded set-up: one worker process, two engines (threads) sharing its one bucket per account.
        "rate_sqlite": run(
            "rate_sqlite", send, "--recipients", str(rate_n), "--processes", "1", "--threads", "2", "--rate", "1000"
        ),
        "rate_pg": run(
            "rate_pg",
            send,
            "--recipients",
            str(rate_n),
            "--processes",
            "2",
            "--rate",
            "1000",
            "--postgres",
            postgres=True,
            redis=True,
        ),
        "callback": run(
            "callback",
            "benchmarks.callback_throughput",
            "--events",
            str(events),
            "--retries",
            str(events // 6),
            postgres=True,
        ),
        "console_lists_small": run(
            "console_lists_small",
            "benchmarks.console_lists",
            "--deliveries",
            str(max(1_000, big // 10)),
            "--repeat",
            "3",
            "--postgres",
            postgres=True,
        ),
        "console_lists_big": run(
            "console_lists_big",
            "benchmarks.console_lists",
            "--deliveries",
            str(big),
            "--repeat",
            "3",
            "--postgres",
            postgres=True,
        ),
        "api": run(
            "api",
            "benchmarks.api_calls",
            "--calls",
            str(max(500, int(4_000 * scale))),
            "--creates",
            str(max(50, int(300 * scale))),
            postgres=True,
            redis=True,
        ),
        "stats_sqlite": run(
            "stats_sqlite", "benchmarks.stats_pages", "--taps", str(taps), "--subscriptions", str(taps // 10)
        ),
        "stats_pg": run(
            "stats_pg",
            "benchmarks.stats_pages",
            "--taps",
            str(taps),
            "--subscriptions",
            str(taps // 10),
            "--postgres",
            postgres=True,
        ),
    }
    summary = figures(runs, scale)
    summary["total_minutes"] = round((time.perf_counter() - began) / 60, 1)
    (OUT / "summary.json").write_text(json.dumps(summary | {"runs": runs}, indent=2, ensure_ascii=False, default=str))
    table = render(summary)
    (OUT / "summary.txt").write_text(table)
    print(table)
    bad = summary["duplicates"] or summary["lost"] or summary["tracebacks"]
    return 1 if bad else 0


def figures(runs: dict[str, Any], scale: float) -> dict[str, Any]:
    bare = runs["bare_loop"]["bare_loop_rps"]
    sends = [r for k, r in runs.items() if k.startswith(("engine_", "send_", "rate_"))]
    lists_small, lists_big = runs["console_lists_small"], runs["console_lists_big"]
    poll, listing = "live progress (every 2 s)", "campaign list"
    rate = runs["rate_pg"]["rate_limit"]
    s = {
        "scale": scale,
        "bare_loop_rps": bare,
        "peer_rps": runs["peer"]["peer_rps"],
        "engine_sqlite_rps": runs["engine_sqlite_1w"]["sends_per_s"],
        "engine_sqlite_rps_2w": runs["engine_sqlite_2w"]["sends_per_s"],
        "engine_pg_rps_1w": runs["engine_pg_1w"]["sends_per_s"],
        "engine_pg_rps_2w": runs["engine_pg_2w"]["sends_per_s"],
        "materialize_300k_s": runs["send_300k"]["materialise_seconds"],
        "send_300k_s": runs["send_300k"]["seconds"],
        "send_300k_recipients": runs["send_300k"]["recipients"],
        "worker_peak_rss_mb": max(r["worker_peak_rss_mb"] for r in sends),
        "callback_eps": runs["callback"]["events_per_s"],
        "callback_p99_ms": runs["callback"]["p99_ms"],
        "bare_django_eps": runs["callback"]["bare_django_eps"],
        "rate_limit_error_pct": round(100 * (runs["rate_pg"]["achieved_rate"] / rate - 1), 2),
        "rate_limit_error_pct_sqlite": round(100 * (runs["rate_sqlite"]["achieved_rate"] / rate - 1), 2),
        "duplicates": sum(r["duplicates"] for r in sends) + runs["api"]["duplicates"],
        "lost": sum(r["lost"] for r in sends)
        + runs["callback"]["lost"]
        + runs["callback"]["duplicates_stored"]
        + runs["api"]["lost"],
        "api_calls_per_s": runs["api"]["api_calls_per_s"],
        "api_p99_ms": runs["api"]["api_p99_ms"],
        "ratio_api": runs["api"]["ratio_api"],
        "api_replayed_same_answer": [runs["api"]["replayed_same_answer"], runs["api"]["creates"]],
        "progress_poll_ms": [lists_small["pages"][poll]["median_ms"], lists_big["pages"][poll]["median_ms"]],
        "progress_poll_queries": [lists_small["pages"][poll]["queries"], lists_big["pages"][poll]["queries"]],
        "campaign_list_ms": [lists_small["pages"][listing]["median_ms"], lists_big["pages"][listing]["median_ms"]],
        "campaign_list_queries": [lists_small["pages"][listing]["queries"], lists_big["pages"][listing]["queries"]],
        "lists_at_deliveries": [lists_small["deliveries in the big send"], lists_big["deliveries in the big send"]],
        "tracebacks": tracebacks(),
        "stats_taps": runs["stats_sqlite"]["menu_taps"],
        "stats_slowest_page_ms": [runs["stats_sqlite"]["slowest_page_ms"], runs["stats_pg"]["slowest_page_ms"]],
        "stats_rebuild_s": [runs["stats_sqlite"]["rebuild_seconds"], runs["stats_pg"]["rebuild_seconds"]],
        # The log's Excel export: seconds for the big send, Python's peak memory for a 2,000-row send and the big
        # one (flat: about the same).
        "export_xlsx_s": lists_big["pages"]["XLSX export, every row"]["seconds"],
        "export_peak_mb": [
            lists_big["pages"]["XLSX export, a 2,000-row send"]["peak_python_mb"],
            lists_big["pages"]["XLSX export, every row"]["peak_python_mb"],
        ],
    }
    s["ratio_pg"] = round(s["engine_pg_rps_1w"] / bare, 3)
    s["ratio_sqlite"] = round(s["engine_sqlite_rps"] / bare, 3)
    s["ratio_callback"] = round(s["callback_eps"] / s["bare_django_eps"], 3)
    s["vs_peer"] = round(s["engine_pg_rps_1w"] / s["peer_rps"], 2)
    s["send_300k_goal_s"] = round(1.25 * s["send_300k_recipients"] / bare, 1)
    return s


def tracebacks() -> int:
    return sum(
        len(re.findall(r"^Traceback \(most recent call last\)", p.read_text(), re.M)) for p in LOGS.glob("*.log")
    )


def render(s: dict[str, Any]) -> str:
    rows = [
        ("bare aiohttp loop, 64 concurrent (the ceiling)", f"{s['bare_loop_rps']:,} sends/s", ""),
        ("usual in-house script (sequential requests + ORM)", f"{s['peer_rps']:,} sends/s", ""),
        ("engine, SQLite, 1 worker × 64", f"{s['engine_sqlite_rps']:,} sends/s", f"ratio_sqlite {s['ratio_sqlite']}"),
        ("engine, SQLite, 2 workers × 64", f"{s['engine_sqlite_rps_2w']:,} sends/s", ""),
        (
            "engine, PostgreSQL + Redis, 1 worker × 64",
            f"{s['engine_pg_rps_1w']:,} sends/s",
            f"ratio_pg {s['ratio_pg']}",
        ),
        ("engine, PostgreSQL + Redis, 2 workers × 64", f"{s['engine_pg_rps_2w']:,} sends/s", f"vs_peer {s['vs_peer']}"),
        (f"materialise {s['send_300k_recipients']:,} (PostgreSQL)", f"{s['materialize_300k_s']} s", ""),
        (
            f"send {s['send_300k_recipients']:,} end to end (PostgreSQL)",
            f"{s['send_300k_s']} s",
            f"goal ≤ {s['send_300k_goal_s']} s",
        ),
        ("worker peak RSS", f"{s['worker_peak_rss_mb']} MB", ""),
        ("callback endpoint (PostgreSQL)", f"{s['callback_eps']:,} events/s, p99 {s['callback_p99_ms']} ms", ""),
        (
            "bare Django view, same server",
            f"{s['bare_django_eps']:,} events/s",
            f"ratio_callback {s['ratio_callback']}",
        ),
        (
            "API: a send's status, GET (PostgreSQL + Redis)",
            f"{s['api_calls_per_s']:,} calls/s, p99 {s['api_p99_ms']} ms",
            f"ratio_api {s['ratio_api']} (vs one row as JSON)",
        ),
        (
            "API: creates retried with their Idempotency-Key",
            f"{s['api_replayed_same_answer'][0]} of {s['api_replayed_same_answer'][1]} replayed",
            "created twice: in `duplicates`",
        ),
        (
            "rate limit 1,000/s: error (PostgreSQL + Redis / SQLite)",
            f"{s['rate_limit_error_pct']} % / {s['rate_limit_error_pct_sqlite']} %",
            "goal ±3 %",
        ),
        (
            f"live progress poll at {s['lists_at_deliveries'][0]:,} / {s['lists_at_deliveries'][1]:,} deliveries",
            f"{s['progress_poll_ms'][0]} / {s['progress_poll_ms'][1]} ms",
            f"queries {s['progress_poll_queries'][0]} / {s['progress_poll_queries'][1]}",
        ),
        (
            "campaign list, same sizes",
            f"{s['campaign_list_ms'][0]} / {s['campaign_list_ms'][1]} ms",
            f"queries {s['campaign_list_queries'][0]} / {s['campaign_list_queries'][1]}",
        ),
        (
            f"statistics pages over {s['stats_taps']:,} taps: slowest (SQLite / PostgreSQL)",
            f"{s['stats_slowest_page_ms'][0]} / {s['stats_slowest_page_ms'][1]} ms",
            "goal ≤ 300 ms",
        ),
        ("statistics rebuild, same data", f"{s['stats_rebuild_s'][0]} / {s['stats_rebuild_s'][1]} s", ""),
        (
            f"send log as Excel, {s['lists_at_deliveries'][1]:,} rows",
            f"{s['export_xlsx_s']} s",
            f"Python peak {s['export_peak_mb'][0]} MB (2,000 rows) / {s['export_peak_mb'][1]} MB: "
            + ("flat" if s["export_peak_mb"][1] <= 2 * s["export_peak_mb"][0] + 5 else "NOT flat"),
        ),
        ("duplicates / lost / tracebacks in the logs", f"{s['duplicates']} / {s['lost']} / {s['tracebacks']}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"wxnotify benchmarks (scale {s['scale']}, {s.get('total_minutes', '?')} min)", ""]
    lines += [f"{a:<{width}}  {b:<34}  {c}" for a, b, c in rows]
    lines += ["", "goals:"]
    for key, (op, target) in GOALS.items():
        value = s[key]
        met = {">=": value >= target, "<=": value <= target, "==": value == target}[op]
        lines.append(f"  {key} {op} {target}: {value} {'met' if met else 'NOT met'}")
    met = abs(s["rate_limit_error_pct"]) <= 3 and abs(s["rate_limit_error_pct_sqlite"]) <= 3
    lines.append(f"  |rate_limit_error_pct| <= 3 (both): {'met' if met else 'NOT met'}")
    lines.append(
        f"  engine_pg_rps_2w >= engine_pg_rps_1w: {'met' if s['engine_pg_rps_2w'] >= s['engine_pg_rps_1w'] else 'NOT met'}"
    )
    lines.append(
        f"  send_300k_s <= {s['send_300k_goal_s']}: {'met' if s['send_300k_s'] <= s['send_300k_goal_s'] else 'NOT met'}"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
