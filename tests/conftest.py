"""Shared fixtures. Persona accounts follow healthchecks' habit: Alice's data must never reach Charlie."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

REQUIRE_SERVICES = os.environ.get("WXNOTIFY_REQUIRE_SERVICES") == "1"
FIXTURES = Path(__file__).parent / "fixtures"

PASSWORD = "correct-horse-battery"
DEMO_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


@pytest.fixture(scope="session", autouse=True)
def collected_static() -> None:
    """Pages name their files through the manifest, as in production: collect them once per run (the
    web processes that tests start find them collected in the same var/ folder)."""
    from wxnotify.console.management.commands.prepare_static import prepare_static

    prepare_static()


_in_flight = {"requests": 0}
_in_flight_lock = threading.Lock()
# The live server starts a thread per connection, without limit; production's web processes answer a few
# requests at a time (gunicorn: 2 workers x 4 threads) and the rest wait. A flood of WeChat's pushes (a send's
# delivery reports, all touching its counts) once held 90 database connections here and PostgreSQL refused
# more ("too many clients"): at most this many requests run at once, the others wait as they would.
_slots = threading.BoundedSemaphore(12)


def counting_requests(application):
    """The live server's WSGI app, counting the requests it is handling (idle keep-alive connections of a
    browser are not requests): `wait_for_live_server_requests` waits for none. At most `_slots` at once."""

    def done():
        with _in_flight_lock:
            _in_flight["requests"] -= 1
        _slots.release()

    def counted(environ, start_response):
        _slots.acquire()
        with _in_flight_lock:
            _in_flight["requests"] += 1
        try:
            return _ClosingResponse(application(environ, start_response), done)
        except BaseException:
            done()
            raise

    return counted


class _ClosingResponse:
    """A WSGI response that reports when the server closes it (after the last byte went out), and still closes
    Django's response: its close() ends the request (request_finished, the database connection)."""

    def __init__(self, result, done):
        self.result, self.done = result, done

    def __iter__(self):
        return iter(self.result)

    def close(self):
        try:
            if hasattr(self.result, "close"):
                self.result.close()
        finally:
            self.done()


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, with its static files served as production serves them: by WhiteNoise
    from what was collected (hashed names), not by Django's finder-based handler, which knows no hashed name."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer(request.config.getvalue("liveserver") or "localhost", start=False)
    server.thread.static_handler = counting_requests  # the app itself (WhiteNoise answers /static/), counted
    server.start()
    yield server
    server.stop()


def skip_unless_available(available: bool, what: str) -> None:
    """Skip on a newcomer's machine that lacks a service; in CI (WXNOTIFY_REQUIRE_SERVICES=1) fail instead."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required in CI but not available")
    pytest.skip(f"{what} not available")


def fixture_xml(name: str, **replace: str) -> bytes:
    body = (FIXTURES / "callbacks" / name).read_text(encoding="utf-8")
    for old, new in replace.items():
        body = body.replace(old, new)
    return body.encode("utf-8")


@pytest.fixture
def make_account(db) -> Callable[..., Any]:
    from wxnotify.accounts.models import OfficialAccount

    counter = iter(range(1, 1000))

    def make(mode: str = "safe", **fields: Any) -> OfficialAccount:
        n = next(counter)
        defaults = {
            "name": f"测试医院{n}",
            "appid": f"wx{n:016d}",
            "original_id": f"gh_{n:012d}",
            "app_secret": f"secret{n:026d}",
            "callback_token": f"token{n}",
            "encoding_aes_key": DEMO_AES_KEY,
            "message_mode": mode,
        }
        return OfficialAccount.objects.create(**(defaults | fields))

    return make


@pytest.fixture
def push(client) -> Callable[..., Any]:
    """POST a message to an account's callback URL the way WeChat would (signed, encrypted per mode)."""
    from wechat.push import build_push

    def send(account: Any, message_xml: bytes, *, mode: str | None = None, **overrides: Any) -> Any:
        built = build_push(
            message_xml,
            token=account.callback_token,
            appid=account.appid,
            mode=mode or account.message_mode,
            encoding_aes_key=account.encoding_aes_key,
        )
        query = built.query | overrides.pop("query", {})
        body = overrides.pop("body", built.body)
        return client.post(
            f"/wechat/{account.appid}/callback?{urlencode(query)}", data=body, content_type="text/xml", **overrides
        )

    return send


def as_account(xml: bytes, account: Any, **replace: str) -> bytes:
    """A fixture re-addressed to `account` (its ToUserName), with optional further replacements."""
    text = xml.decode().replace("gh_123456789abc", account.original_id)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode()


@pytest.fixture
def personas(make_account):
    """Alice administers Ruikang; Bob operates it; Vera only views it; Charlie administers another hospital."""
    from django.contrib.auth import get_user_model

    from wxnotify.accounts.models import Membership

    User = get_user_model()
    ruikang = make_account(name="瑞康医院")
    other = make_account(name="别家医院")
    people = {}
    for name, account, role in [
        ("alice", ruikang, "administrator"),
        ("bob", ruikang, "operator"),
        ("vera", ruikang, "viewer"),
        ("charlie", other, "administrator"),
    ]:
        user = User.objects.create_user(name, password=PASSWORD)
        Membership.objects.create(user=user, account=account, role=role)
        people[name] = user
    people["ruikang"], people["other"] = ruikang, other
    return people


@pytest.fixture(autouse=True)
def _fresh_log_rate_limits():
    """Refusal lines are rate-limited per account and reason for a minute: a test must not inherit the
    silence an earlier test's refusals left (SQLite reuses primary keys after a rollback)."""
    from wxnotify.callbacks import refusals
    from wxnotify.console import logs

    refusals._log.reset()
    logs._client_errors.reset()


@pytest.fixture(autouse=True)
def _close_connections_of_the_async_orm_thread():
    """Async ORM calls run in asgiref's shared worker thread; close its connections so test databases can be dropped."""
    yield
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import connections

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop running here (a browser test's Playwright loop is the exception)
        asyncio.run(sync_to_async(connections.close_all)())


def link_account(sim: Any, account: Any, callback_url: str = "") -> None:
    """Make the simulated WeChat know `account` exactly as the product has it connected."""
    sim.put_account(
        appid=account.appid,
        secret=account.app_secret,
        original_id=account.original_id,
        token=account.callback_token,
        encoding_aes_key=account.encoding_aes_key,
        mode=account.message_mode,
        callback_url=callback_url,
        name=account.name,
    )


@pytest.fixture
def simulated_wechat(make_account, settings):
    """A safe-mode account in the product and the same account in a running wxsim; the product points at it."""
    from wxsim.testing import running_simulator

    account = make_account(mode="safe")
    with running_simulator(delivery_timeout=1.0, sent_event_delay=0.0) as sim:
        link_account(sim, account)
        settings.WECHAT_API_BASE_URL = sim.base_url
        settings.WECHAT_OAUTH_AUTHORIZE_URL = f"{sim.base_url}/connect/oauth2/authorize"
        settings.WECHAT_JSSDK_URL = f"{sim.base_url}/_sim/jweixin-1.6.0.js"
        settings.WECHAT_SUBSCRIBEMSG_URL = f"{sim.base_url}/mp/subscribemsg"
        yield account, sim
    wait_for_live_server_requests()


def wait_for_live_server_requests(timeout: float = 30) -> None:
    """Let the live server finish the pushes it is still handling before the test's data is removed.

    The simulator gives up on a push after its timeout, but our handler may still be running (a busy SQLite
    under a send): if the flush ran first, its commit would fail on the deleted account, and Django's test
    client reports a live-server exception to whichever test makes the next request."""
    import time

    deadline = time.monotonic() + timeout
    while _in_flight["requests"] and time.monotonic() < deadline:
        time.sleep(0.05)


def database_env() -> dict[str, str]:
    """Point a child process at the database this test uses."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"WXNOTIFY_SQLITE_NAME": str(db["NAME"])}
    user = db.get("USER") or ""
    auth = f"{user}:{db['PASSWORD']}@" if db.get("PASSWORD") else (f"{user}@" if user else "")
    return {"DATABASE_URL": f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"}


def worker_env(**extra: str) -> dict[str, str]:
    """Environment for a real worker process sharing this test's database and a private queue."""
    import uuid

    from django.conf import settings

    return (
        os.environ
        | database_env()
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "WXNOTIFY_VAR_DIR": str(settings.VAR_DIR),
            "WXNOTIFY_QUEUE_NAME": f"test-{uuid.uuid4().hex[:8]}",
            "WXNOTIFY_QUEUE_FILE": f"queue-{uuid.uuid4().hex[:8]}.sqlite3",
            "WXNOTIFY_LOG_LEVEL": "WARNING",
        }
        | extra
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_web_app(*, workers: int = 1, threads: int = 4, **env: str) -> Iterator[tuple[str, Path]]:
    """The web app as production runs it (gunicorn with config/gunicorn.conf.py) on this test's database.

    Yields its base URL and the file its log goes to. The test needs a transactional database."""
    import subprocess
    import sys
    import tempfile

    from wxsim.client import wait_until_up

    root = Path(__file__).resolve().parent.parent
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=root, env=worker_env(**env), stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(f"{base}/login/", seconds=30, process=server)
        except RuntimeError as error:
            raise RuntimeError(f"gunicorn did not start ({error}): {log_path.read_text()[-2000:]}") from None
        yield base, log_path
    finally:
        server.terminate()
        server.wait(timeout=15)


@contextmanager
def queue_worker(**env: str) -> Iterator[None]:
    """A real Huey worker process on a queue of this test's own, which this process enqueues into (instead of
    running tasks inline, as tests otherwise do). The test needs a transactional database."""
    import subprocess
    import sys
    import time
    import uuid

    from django.conf import settings
    from huey.contrib.djhuey import HUEY

    root = Path(__file__).resolve().parent.parent
    # A queue of its own, unless the test shares one with a web app it started (running_web_app(**same)).
    name = env.pop("WXNOTIFY_QUEUE_NAME", f"test-{uuid.uuid4().hex[:8]}")
    queue_file = env.pop("WXNOTIFY_QUEUE_FILE", f"queue-{uuid.uuid4().hex[:8]}.sqlite3")
    saved = (HUEY.name, dict(HUEY.storage_kwargs))
    HUEY.name = name
    if "filename" in HUEY.storage_kwargs:
        HUEY.storage_kwargs["filename"] = str(Path(settings.VAR_DIR) / queue_file)
    HUEY.immediate = False  # a new storage: the queue the worker reads
    environment = worker_env(WXNOTIFY_QUEUE_NAME=name, WXNOTIFY_QUEUE_FILE=queue_file, **env)
    worker = subprocess.Popen([sys.executable, "manage.py", "run_huey", "--quiet"], cwd=root, env=environment)
    try:
        time.sleep(0.5)
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        HUEY.name, HUEY.storage_kwargs = saved[0], saved[1]
        HUEY.immediate = True


def vaccine_template(sim: Any, account: Any) -> Any:
    """The vaccine-arrival template added to the account in the simulator, and in the product as the console's
    "sync templates" makes it."""
    from wxnotify.subscriptions.models import Template
    from wxnotify.subscriptions.services import parse_keywords

    made = sim.post(f"/_sim/accounts/{account.appid}/templates", {"tid": 5004, "kid_list": [1, 2, 3, 5]})
    return Template.objects.create(
        account=account,
        template_id=made["priTmplId"],
        title=made["title"],
        content=made["content"],
        kind=Template.Kind.ONE_TIME,
        keywords=parse_keywords(made["content"]),
    )


VACCINE_FIELDS = {
    "thing1": "九价HPV疫苗",
    "date2": "2026年12月1日",
    "thing3": "预防接种门诊",
    "thing5": "点击卡片立即预约",
}


@pytest.fixture
def sending(simulated_wechat, live_server):
    """A hospital on the simulator with the vaccine template, its callback on the live server, and a way to add subscribers."""
    from wxnotify.campaigns.models import Campaign
    from wxnotify.subscriptions.models import Subscription

    account, sim = simulated_wechat
    link_account(sim, account, callback_url=f"{live_server.url}/wechat/{account.appid}/callback")
    template = vaccine_template(sim, account)

    def subscribers(n: int, *, product_only: int = 0) -> list[str]:
        """n patients subscribed on both sides (one credit each); `product_only` more that WeChat does not know as subscribed."""
        openids = sim.post(
            f"/_sim/accounts/{account.appid}/patients", {"count": n, "credits": {template.template_id: 1}}
        )["openids"]
        extra = (
            sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": product_only})["openids"]
            if product_only
            else []
        )
        Subscription.objects.bulk_create(
            [
                Subscription(
                    account=account,
                    template=template,
                    openid=o,
                    credits=1,
                    accepts=1,
                    first_accepted_at="2026-11-01T00:00:00Z",
                )
                for o in openids + extra
            ]
        )
        return openids + extra

    def campaign(**fields) -> Campaign:
        return Campaign.objects.create(
            account=account,
            template=template,
            **({"name": "HPV 疫苗到货", "audience": Campaign.Audience.TEMPLATE, "data": VACCINE_FIELDS} | fields),
        )

    yield account, sim, template, subscribers, campaign
    sim.drain()  # WeChat's last delivery reports reach the product before the test's data is removed


@pytest.fixture
def hospital_console(simulated_wechat, client, push):
    """A hospital on the simulator with something on every page, and Alice (its administrator) logged in:
    a template, an activity, a completed send with sent and failed rows, a follower and the pushes behind it."""
    from django.contrib.auth import get_user_model

    from tests.conftest import VACCINE_FIELDS, as_account, fixture_xml
    from tests.subscriptions.conftest import make_activity, make_template
    from wxnotify.accounts.models import Membership
    from wxnotify.campaigns.models import Campaign, Delivery, Previewer

    account, sim = simulated_wechat
    alice = get_user_model().objects.create_user("alice")
    Membership.objects.create(user=alice, account=account, role="administrator")
    template = make_template(account, template_id="TPL_VACCINE")
    activity = make_activity(account, template)
    campaign = Campaign.objects.create(
        account=account,
        template=template,
        name="HPV 疫苗到货",
        audience="template",
        data=VACCINE_FIELDS,
        state="completed",
    )
    Delivery.objects.bulk_create(
        [Delivery(campaign=campaign, openid=f"o{i:027d}", state="sent") for i in range(60)]
        + [Delivery(campaign=campaign, openid=f"f{i:027d}", state="failed", errcode=43101) for i in range(5)]
    )
    from wxnotify.campaigns import tally

    tally.recount(campaign.pk)  # rows written here directly, not by a send
    Previewer.objects.create(account=account, name="王老师", openid="oPreviewer000000000000000001")
    for name in ("follow_qrscene.xml", "menu_click.xml", "text.xml"):
        assert push(account, as_account(fixture_xml(name), account)).status_code == 200
    client.force_login(alice)
    return account, sim, template, activity, campaign
