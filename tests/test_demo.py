"""`python -m demo` (what `make demo` runs) stands outside the product's apps: started as a newcomer starts
it, it prepares its own SQLite database with the demo account and login."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_prepares_its_database_with_the_account_and_login(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["WXNOTIFY_VAR_DIR"] = str(tmp_path)  # the embedded set-up, in a folder of the test's own
    done = subprocess.run(
        [sys.executable, "-m", "demo", "--no-serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "demo database ready" in done.stdout
    with sqlite3.connect(tmp_path / "wxnotify.sqlite3") as db:
        assert db.execute("select appid, message_mode from accounts_officialaccount").fetchall() == [
            ("wxd3m0a1b2c3d4e5f6", "safe")
        ]
        (user,) = db.execute("select username from auth_user where is_superuser").fetchall()
        assert user == ("demo",)
