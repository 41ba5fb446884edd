"""The small version of `make chaos`: two of its scenarios at 1,000 recipients, each in its own process with
its own simulator, web app and workers, on this run's database kind (SQLite in `make test`, PostgreSQL +
Redis in CI's second stage). Nobody reached twice, nobody lost, every unknown that WeChat delivered settled
by its report, a campaign-wide refusal stopping the send within the requests in flight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
CONCURRENCY = 64  # WXNOTIFY_SEND_CONCURRENCY's default: what one engine has in flight


@pytest.mark.parametrize("scenario", ["transient", "campaign_error"])
def test_a_small_chaos_scenario(scenario):
    result_file = Path(tempfile.mkstemp(prefix=f"chaos-{scenario}-", suffix=".json")[1])
    command = [sys.executable, "-m", "benchmarks.chaos", "--scenario", scenario, "--recipients", "1000"]
    command += ["--rate", "500", "--sim-port", str(free_port()), "--web-port", str(free_port()), "--timeout", "240"]
    on_postgres = bool(os.environ.get("DATABASE_URL"))
    if not on_postgres:
        command.append("--sqlite")
    # The product's own settings, as `make chaos` runs it (not the tests' immediate queue or their var dir).
    ours = ("PYTEST", "DJANGO_SETTINGS_MODULE", "WXNOTIFY_VAR_DIR", "WXNOTIFY_HUEY_IMMEDIATE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)} | {"WXNOTIFY_CHAOS_RESULT": str(result_file)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    text = result_file.read_text()
    result_file.unlink()
    assert done.returncode == 0 and text, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(text)
    assert result["database"] == ("postgresql+redis" if on_postgres else "sqlite")
    assert result["final_state"] == "completed", result
    assert result["duplicates"] == 0 and result["lost"] == 0, result
    assert result["unknown_received"] == 0, result  # WeChat's reports settled every one it delivered
    if scenario == "campaign_error":
        assert result["halted"] and 0 < result["halted_within"] <= 2 * CONCURRENCY, result
