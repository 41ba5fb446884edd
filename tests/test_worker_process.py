"""A real Huey worker process picks up a queued task from the shared queue (SQLite, or Redis when REDIS_URL is set)."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import REQUIRE_SERVICES, database_env, skip_unless_available
from tests.fakewechat import FakeWeChat, serve_in_thread
from wxnotify.followers.models import Follower

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_process_runs_a_queued_follower_sync(make_account):
    account = make_account()
    fake = FakeWeChat()
    fake.on("/cgi-bin/stable_token", lambda r, p: {"access_token": "T", "expires_in": 7200})
    fake.on(
        "/cgi-bin/user/get",
        lambda r, p: {"total": 3, "count": 3, "data": {"openid": ["o1", "o2", "o3"]}, "next_openid": ""},
    )
    base, stop_fake = serve_in_thread(fake)
    env = (
        os.environ
        | database_env()
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "WXNOTIFY_VAR_DIR": str(settings.VAR_DIR),
            "WECHAT_API_BASE_URL": base,
            "WXNOTIFY_QUEUE_NAME": f"test-{uuid.uuid4().hex[:8]}",
            "WXNOTIFY_QUEUE_FILE": f"queue-{uuid.uuid4().hex[:8]}.sqlite3",
        }
    )
    worker = subprocess.Popen([sys.executable, "manage.py", "run_huey", "--workers", "2"], cwd=ROOT, env=env)
    try:
        enqueue = f"from wxnotify.followers.tasks import sync_account_followers; sync_account_followers({account.pk})"
        subprocess.run([sys.executable, "manage.py", "shell", "-c", enqueue], cwd=ROOT, env=env, check=True, timeout=60)
        deadline = time.monotonic() + 30
        while Follower.objects.filter(account=account).count() < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        stop_fake()
    assert sorted(Follower.objects.filter(account=account, is_following=True).values_list("openid", flat=True)) == [
        "o1",
        "o2",
        "o3",
    ]
    assert fake.calls["/cgi-bin/user/get"] == 1


def test_ci_runs_against_postgresql_and_redis():
    """In CI's second run these services are required; on a newcomer's machine without them this skips."""
    skip_unless_available(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    skip_unless_available(bool(settings.REDIS_URL), "Redis (REDIS_URL)")
    import redis

    assert redis.Redis.from_url(settings.REDIS_URL).ping()
    assert settings.HUEY["huey_class"] == "huey.PriorityRedisHuey"
    if REQUIRE_SERVICES:
        with connection.cursor() as cursor:
            cursor.execute("select version()")
            assert "PostgreSQL" in cursor.fetchone()[0]
