"""Real Huey worker processes share a campaign through the database (and Redis in CI); one of them is
killed with SIGKILL mid-send: nobody gets the notification twice, and nothing is lost or left open."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import worker_env
from wxnotify.campaigns import selectors, services
from wxnotify.campaigns.models import Campaign, Delivery

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)
CONCURRENCY = 8


def start_worker(env, *extra):
    command = [sys.executable, "manage.py", "run_huey", "--workers", "1", "--quiet", *extra]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def enqueue(env, campaign_id, n):
    code = f"from wxnotify.campaigns.tasks import send_campaign\nfor _ in range({n}): send_campaign({campaign_id})"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, timeout=60)


def wait_for(predicate, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def stop(*workers):
    for w in workers:
        if w.poll() is None:
            w.terminate()
    for w in workers:
        try:
            w.wait(timeout=15)
        except subprocess.TimeoutExpired:
            w.kill()


def test_two_worker_processes_exactly_once(sending, settings):
    account, sim, template, subscribers, campaign = sending
    subscribers(2000)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    env = worker_env(WECHAT_API_BASE_URL=sim.base_url, WXNOTIFY_SEND_CONCURRENCY=str(CONCURRENCY))
    workers = [start_worker(env), start_worker(env)]
    try:
        enqueue(env, c.pk, 2)
        assert wait_for(lambda: Campaign.objects.get(pk=c.pk).state == Campaign.State.COMPLETED)
    finally:
        stop(*workers)
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == 2000 and received["more_than_once"] == []
    assert selectors.progress(c)["sent"] == 2000
    by_worker = set(Delivery.objects.filter(campaign=c).values_list("worker", flat=True))
    assert len(by_worker) == 2  # both processes took part
    sim.drain()


def started_without_workers(sending, recipients):
    """A send started with nobody at work yet (WeChat a little slow, leases of 2 s) and the workers' env."""
    _account, sim, _template, subscribers, campaign = sending
    subscribers(recipients)
    sim.post("/_sim/faults", {"path": "/cgi-bin/message/subscribe/bizsend", "latency_ms": {"uniform": [20, 40]}})
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    env = worker_env(
        WECHAT_API_BASE_URL=sim.base_url, WXNOTIFY_SEND_CONCURRENCY=str(CONCURRENCY), WXNOTIFY_SEND_LEASE_SECONDS="2"
    )
    return c, env


def test_kill_minus_nine_mid_campaign_loses_nothing_and_duplicates_nothing(sending):
    account, sim, template, _subscribers, _campaign = sending
    c, env = started_without_workers(sending, 1500)
    victim, survivor = start_worker(env), start_worker(env)
    replacement = None
    try:
        enqueue(env, c.pk, 2)
        assert wait_for(lambda: Delivery.objects.filter(campaign=c, state="sent").count() > 300, 60)
        os.kill(victim.pid, signal.SIGKILL)  # mid-batch, requests in flight
        victim.wait(timeout=10)
        replacement = start_worker(env)  # the operator restarts the worker
        enqueue(env, c.pk, 1)
        done = wait_for(lambda: Campaign.objects.get(pk=c.pk).state == Campaign.State.COMPLETED, 120)
        assert done, (Campaign.objects.get(pk=c.pk).state, selectors.progress(c))
    finally:
        stop(survivor, *([replacement] if replacement else []))
    # WeChat's delivery reports reach the product and settle what stayed unknown: drain returns once every
    # push has its answer, and the callback answers after its transaction committed.
    sim.drain()
    progress = selectors.progress(c)
    assert progress["pending"] == progress["claimed"] == progress["sending"] == 0  # every recipient has a final state
    # What the killed worker had started (ARCHITECTURE: concurrency + two start chunks of the concurrency);
    # those WeChat delivered were settled by its reports.
    assert progress["unknown"] <= CONCURRENCY + 2 * CONCURRENCY
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["more_than_once"] == []  # duplicates: 0
    assert received["total"] == progress["sent"]  # every delivery WeChat made is known as sent
    assert progress["sent"] + progress["unknown"] == 1500  # lost: 0


def test_every_worker_killed_the_restarted_one_finishes_the_send_by_itself(sending):
    """Both workers die mid-send and take the queue's messages with them; a restarted worker looks at the
    sends once the dead ones' leases have run out and revives this one — nobody enqueues anything, and the
    minute task (which would also find it, later) does not run in this worker."""
    account, sim, template, _subscribers, _campaign = sending
    c, env = started_without_workers(sending, 800)
    workers = [start_worker(env), start_worker(env)]
    replacement = None
    try:
        enqueue(env, c.pk, 2)
        assert wait_for(lambda: Delivery.objects.filter(campaign=c, state="sent").count() > 150, 60)
        for worker in workers:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        sent = Delivery.objects.filter(campaign=c, state="sent").count()
        assert sent < 800
        replacement = start_worker(env, "--no-periodic")  # as systemd would: no message in the queue for it
        done = wait_for(lambda: Campaign.objects.get(pk=c.pk).state == Campaign.State.COMPLETED, 90)
        assert done, (Campaign.objects.get(pk=c.pk).state, selectors.progress(c))
    finally:
        stop(*([replacement] if replacement else []))
    (revival,) = Campaign.objects.get(pk=c.pk).audit.filter(action="revive")
    assert revival.user is None and revival.detail["stalled"]["workers"]  # the dead workers named
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["more_than_once"] == []
    progress = selectors.progress(c)
    assert progress["sent"] + progress["unknown"] == 800 and progress["unknown"] <= 2 * 3 * CONCURRENCY
