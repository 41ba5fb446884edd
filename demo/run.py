"""`python -m demo` (what `make demo` runs): the database, the demo account and login, then the simulator,
the web app and the worker as processes of their own, the demo data, and a banner.

It only orchestrates: the data is made in `demo.data` and `demo.engagement` through the product's services,
and patients act through the simulator's public client (`wxsim.client`), so their pushes reach the
running web app signed and encrypted, as WeChat's would. Everything runs on this machine with SQLite;
running it again reuses the database. The demo account's token and EncodingAESKey are printed because
they are demo values, published here, and must be typed into a (simulated) WeChat backend; a real
account's secrets are never shown.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from demo.data import (
    DEMO,
    DEMO_PASSWORD,
    DEMO_USER,
    demo_api_calls,
    demo_messages,
    ensure_demo_account,
    ensure_demo_activities,
    ensure_demo_campaigns,
    open_notifications,
    subscription_history,
)
from demo.engagement import ensure_demo_engagement, taps_at
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.models import InboundMessage
from wxnotify.campaigns import selectors
from wxnotify.campaigns.models import Campaign
from wxnotify.engagement.models import SecondMessage
from wxnotify.stats import services as stats
from wxnotify.subscriptions.models import Activity
from wxsim.client import ServerURL, Simulator, wait_until_up


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Run the demo: migrate, demo account and login, WeChat simulator, web app and worker, demo data.",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("WXNOTIFY_PORT", "8000")))
    parser.add_argument("--sim-port", type=int, default=int(os.environ.get("WXSIM_PORT", "8100")))
    parser.add_argument("--no-serve", action="store_true", help="prepare the database and exit")
    options = parser.parse_args(argv)

    call_command("migrate", verbosity=0, interactive=False)
    account = ensure_demo_account()
    if options.no_serve:
        say("demo database ready")
        return
    base = f"http://127.0.0.1:{options.port}"
    sim = Simulator(f"http://127.0.0.1:{options.sim_port}")
    callback = ServerURL(
        f"{base}/wechat/{account.appid}/callback",
        token=account.callback_token,
        appid=account.appid,
        mode=account.message_mode,
        encoding_aes_key=account.encoding_aes_key,
    )
    # Point the product at the simulator, as production points it at WeChat.
    env = os.environ | {
        "WXNOTIFY_PUBLIC_URL": base,
        "WECHAT_API_BASE_URL": sim.base_url,
        "WECHAT_OAUTH_AUTHORIZE_URL": f"{sim.base_url}/connect/oauth2/authorize",
        "WECHAT_JSSDK_URL": f"{sim.base_url}/_sim/jweixin-1.6.0.js",
        "WECHAT_SUBSCRIBEMSG_URL": f"{sim.base_url}/mp/subscribemsg",
        "WXNOTIFY_ALLOW_OTHER_BROWSERS": "1",  # any desktop browser may play the patient in the demo
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("WECHAT_")})
    settings.WECHAT_API_BASE_URL = sim.base_url  # for the follower sync run from this process
    python = sys.executable
    conf = settings.BASE_DIR / "config" / "gunicorn.conf.py"
    gunicorn = (
        f"-m gunicorn config.wsgi -c {conf} --bind 127.0.0.1:{options.port} --workers 2 --threads 4 --log-level warning"
    )
    wxsim = f"-m wxsim serve --demo --port {options.sim_port} --demo-callback {callback.url}"
    children = [
        subprocess.Popen([python, *wxsim.split()], env=env),  # noqa: S603 - fixed command lines
        subprocess.Popen([python, *gunicorn.split()], env=env),  # noqa: S603
        subprocess.Popen([python, "manage.py", "run_huey", "--quiet"], env=env),  # noqa: S603
    ]

    def stop() -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    def terminate(*_: Any) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, terminate)
    try:
        try:
            sim.wait_until_up(seconds=30, process=children[0])
            wait_until_up(base + "/login/", seconds=30, process=children[1])
        except RuntimeError as error:
            raise SystemExit(f"{error}; see its output above") from None
        if not InboundMessage.objects.filter(account=account).exists():
            fill_in(account, sim, callback, base)
        banner(base, sim, account, callback)
        while all(child.poll() is None for child in children):
            time.sleep(1)
        raise SystemExit("a demo process exited; stopping the others")
    except KeyboardInterrupt:
        say("\nstopping ...")
    finally:
        stop()


def fill_in(account: OfficialAccount, sim: Simulator, callback: ServerURL, base: str) -> None:
    """Welcomes, keyword replies and the menu's versions; fourteen months of history for 400 of the
    simulator's patients (follows, questions, menu taps), the follower list and templates from "WeChat",
    four activities, a few hundred patients subscribing through article popups, and patients acting now."""
    openids = [p["openid"] for p in sim.patients(account.appid, limit=3000)]
    say("welcomes, keyword replies and the menu (three versions, published to the simulator) ...")
    versions = ensure_demo_engagement(account, get_user_model().objects.get(username=DEMO_USER))
    messages, unfollowers = demo_messages(account, openids[:400], taps_at(versions))
    say(f"filling in demo data: {len(messages)} follows, menu taps and messages ...")
    # straight to the web app, with their past CreateTime: the history
    refused = sum(callback.push(message)[0] != 200 for message in messages)
    if refused:
        say(f"  the web app refused {refused} of them: see its log above")
    for openid in unfollowers:  # they leave through the simulator, so WeChat and wxnotify agree
        sim.act(account.appid, openid, "unfollow")
    call_command("sync_followers", account.appid, stdout=sys.stdout)
    account.one_time_template_id = sim.account(account.appid)["one_time_template_id"]
    account.save(update_fields=["one_time_template_id"])
    call_command("sync_templates", account.appid, stdout=sys.stdout)
    activities = ensure_demo_activities(account)
    say("thirteen months of subscriptions from articles ...")
    say(f"  {subscription_history(sim, account, activities, openids[400:])} popups answered")
    say("patients subscribing from articles ...")
    rng = random.Random(11)
    for activity in activities:
        template = activity.templates.first()
        assert template is not None
        for openid in rng.sample(openids[400:], k=rng.randrange(60, 160)):
            sim.act(account.appid, openid, "popup", choices={template.template_id: "accept"}, popup_scene=2)
    sending = ensure_demo_campaigns(account, base)
    if sending is not None:
        say("sending the lecture notice through the worker ...")
        for _ in range(120):
            sending.refresh_from_db()
            if sending.state not in (Campaign.State.SENDING, Campaign.State.APPROVED):
                break
            time.sleep(0.5)
        sent = selectors.progress(sending)["sent"]
        say(f"  {sending.name}: {sending.get_state_display()}, {sent} sent")
        opened = open_notifications(sim, account, sending)
        say(f"  {opened} patients tapped 查看详情 (counted by the link's redirect)")
    if token := demo_api_calls(account, base):
        say(f"API: a read-only demo token (shown once): {token}")
        say(f"  try: curl -H 'Authorization: Bearer {token}' {base}/api/v1/templates")
    live_engagement(account, sim, unfollowers)
    refreshed = stats.refresh()  # the worker does it every minute; the first open should not wait for it
    say(f"statistics: {sum(refreshed.values())} days and months rolled up")


def live_engagement(account: OfficialAccount, sim: Simulator, unfollowers: list[str]) -> None:
    """Patients acting now, through the simulator: new follows (one from the HPV poster) get the welcome
    and, from the worker, the second message; one who had left comes back; two ask questions."""
    say("patients following and asking now (welcome, second message, keyword replies) ...")
    followed = [sim.act(account.appid, "new", "follow")["openid"] for _ in range(4)]
    sim.act(account.appid, "new", "follow", scene="poster_hpv_2026")
    if unfollowers:
        sim.act(account.appid, unfollowers[0], "follow")
    for openid, question in zip(followed, ["HPV疫苗什么时候到？", "周六有门诊吗"], strict=False):
        sim.act(account.appid, openid, "text", content=question)
    deadline = time.monotonic() + 20
    while SecondMessage.objects.filter(account=account, state="pending").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    sent = SecondMessage.objects.filter(account=account, state="sent").count()
    say(f"  second messages sent by the worker: {sent}")


def patient_page(base: str, account: OfficialAccount) -> str:
    activity = (
        Activity.objects.filter(account=account, kind="vaccine").first()
        or Activity.objects.filter(account=account).first()
    )
    return f"{base}/s/{activity.code}/" if activity else "(no activity yet)"


def banner(base: str, sim: Simulator, account: OfficialAccount, callback: ServerURL) -> None:
    since = timezone.now() - timedelta(days=1)
    recent = InboundMessage.objects.filter(account=account, received_at__gte=since).count()
    lines = [
        "",
        "wxnotify demo is running (Ctrl-C stops it)",
        f"  console:          {base}/",
        f"  demo login:       {DEMO_USER} / {DEMO_PASSWORD}",
        f"  demo account:     {account.name}",
        f"    AppID:          {account.appid}",
        f"    original id:    {account.original_id}",
        f"    callback URL:   {callback.url}",
        f"    token:          {DEMO['callback_token']}   (demo value)",
        f"    EncodingAESKey: {DEMO['encoding_aes_key']}   (demo value, safe mode)",
        f"  patient page:     {patient_page(base, account)}  (any browser plays a patient in the demo)",
        f"  WeChat simulator: {sim.base_url}/  (wxsim; its control API is under {sim.base_url}/_sim/)",
        f"  worker:           Huey on {'Redis' if settings.REDIS_URL else 'SQLite'}",
        f"  database:         {settings.DATABASES['default']['NAME']}",
        f"  inbound messages in the last 24 h: {recent}",
        "",
    ]
    say("\n".join(lines))
