"""`manage.py demo` (what `make demo` runs): database, demo account and login, web app, worker, demo data.

Everything runs on this machine with SQLite; running it again reuses the database. The demo
account's token and EncodingAESKey are printed because they are demo values, published here, and
must be typed into a (simulated) WeChat backend; a real account's secrets are never shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from wechat.messages import FollowEvent, MenuClickEvent, MenuViewEvent, Message, ScanEvent, TextMessage
from wechat.push import build_push
from wechat.xmlcodec import render_message
from wxnotify.accounts.models import Membership, MessageMode, OfficialAccount, Role
from wxnotify.api import tokens
from wxnotify.api.models import ApiToken
from wxnotify.callbacks.models import InboundMessage
from wxnotify.campaigns import selectors, services
from wxnotify.campaigns.models import Campaign
from wxnotify.console.management.commands._demo_engagement import ensure_demo_engagement, taps_at
from wxnotify.engagement.models import SecondMessage
from wxnotify.stats import services as stats
from wxnotify.subscriptions.models import Activity, Template
from wxnotify.subscriptions.validation import validate_fields

DEMO = {
    "name": "瑞康医院（演示）",
    "appid": "wxd3m0a1b2c3d4e5f6",
    "original_id": "gh_d3m0ruikang01",
    "app_secret": "demo0secret0not0for0production",
    "callback_token": "wxnotifydemotoken",
    "encoding_aes_key": "DemoRuikangHospitalEncodingAESKey0123456789",
    "message_mode": MessageMode.SAFE,
}
DEMO_USER, DEMO_PASSWORD = "demo", "wxnotify-demo"


def ensure_demo_account() -> OfficialAccount:
    account, _ = OfficialAccount.objects.get_or_create(appid=DEMO["appid"], defaults=DEMO)
    User = get_user_model()
    user = User.objects.filter(username=DEMO_USER).first()
    if user is None:
        user = User.objects.create_superuser(DEMO_USER, password=DEMO_PASSWORD)
    Membership.objects.get_or_create(user=user, account=account, defaults={"role": Role.ADMINISTRATOR})
    return account


DAYS_OF_HISTORY = 420  # 14 months: the statistics compare months and years


def demo_messages(
    account: OfficialAccount, openids: list[str], taps_at: Any = None, *, seed: int = 7
) -> tuple[list[Message], list[str]]:
    """Fourteen months of an account's life: follows (some from posters' QR codes), unfollows, taps on the menu
    live at the time (`taps_at(t)` → [(event, value, menu_id)]), questions."""
    rng = random.Random(seed)
    now = int(time.time())
    base = {"account_original_id": account.original_id}
    scenes = ["poster_hpv_2026", "clinic_free_0315", "lecture_diabetes", "outpatient_hall"]
    questions = ["HPV疫苗什么时候到？", "体检套餐怎么预约", "周六有门诊吗", "义诊在几楼", "停车场在哪里", "谢谢"]
    out: list[Message] = []
    unfollowers: list[str] = []
    for openid in openids:
        t = now - rng.randrange(DAYS_OF_HISTORY * 86400)
        scene = rng.choice(scenes) if rng.random() < 0.35 else None
        out.append(FollowEvent(**base, openid=openid, create_time=t, msg_type="event", scene=scene))
        for _ in range(rng.randrange(6)):
            t += rng.randrange(1, 30 * 86400)
            kind = rng.random()
            taps = taps_at(t) if taps_at else []
            if kind < 0.6 and taps:
                event, value, menu_id = rng.choice(taps)
                if event == "VIEW":
                    out.append(
                        MenuViewEvent(
                            **base, openid=openid, create_time=t, msg_type="event", url=value, menu_id=menu_id
                        )
                    )
                else:
                    out.append(MenuClickEvent(**base, openid=openid, create_time=t, msg_type="event", key=value))
            elif kind < 0.85:
                msg_id = rng.randrange(10**16, 10**17)
                out.append(
                    TextMessage(
                        **base, openid=openid, create_time=t, msg_type="text", content=rng.choice(questions), id=msg_id
                    )
                )
            else:
                out.append(ScanEvent(**base, openid=openid, create_time=t, msg_type="event", scene=rng.choice(scenes)))
        if rng.random() < 0.12:
            unfollowers.append(openid)
    return sorted((m for m in out if m.create_time <= now), key=lambda m: m.create_time), unfollowers


def push_over_http(url: str, account: OfficialAccount, messages: list[Message]) -> int:
    """Deliver each message to the running web app exactly as WeChat would: signed and AES-encrypted."""
    accepted = 0
    for message in messages:
        push = build_push(
            render_message(message),
            token=account.callback_token,
            appid=account.appid,
            mode=account.message_mode,
            encoding_aes_key=account.encoding_aes_key,
        )
        query = urllib.parse.urlencode(push.query)
        request = urllib.request.Request(f"{url}?{query}", data=push.body, headers={"Content-Type": "text/xml"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own loopback URL
            accepted += response.status == 200
    return accepted


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the web app exited during start-up; see its output above")
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # it answers: any HTTP status will do
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the web app did not answer at {url} within {seconds:.0f} s")


DEMO_ACTIVITIES = [
    # (title, kind, days from now, hour, place, template title)
    ("九价HPV疫苗到货提醒", "vaccine", 5, 9, "门诊楼一楼 预防接种门诊", "疫苗到货通知"),
    ("糖尿病饮食管理 · 直播讲座", "live_lecture", 3, 19, "瑞康医院视频号直播间", "直播开始提醒"),
    ("社区义诊：高血压与糖尿病筛查", "offline", 10, 8, "门诊大厅", "活动报名提醒"),
    ("女性全面体检套餐上架", "checkup", 7, 10, "健康管理中心", "体检套餐上架提醒"),
]


def ensure_demo_activities(account: OfficialAccount) -> list[Activity]:
    if Activity.objects.filter(account=account).exists():
        return list(Activity.objects.filter(account=account))
    today = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    made = []
    for title, kind, days, hour, place, template_title in DEMO_ACTIVITIES:
        starts = (today + timedelta(days=days)).replace(hour=hour, minute=30 if kind == "live_lecture" else 0)
        activity = Activity.objects.create(
            account=account,
            title=title,
            kind=kind,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            place=place,
            description="这是演示数据。"
            if kind != "vaccine"
            else "九价HPV疫苗预计本周到货，名额有限。订阅后到货第一时间通知你。",
        )
        activity.templates.set(Template.objects.filter(account=account, title=template_title))
        made.append(activity)
    return made


def demo_fields(activity: Activity, template: Template) -> dict[str, str]:
    """Field values for a notice about `activity`: its title and start time where the template has such
    fields, the template's own example elsewhere (valid by construction)."""
    example = dict(line.split(":", 1) for line in template.example.splitlines() if ":" in line)
    values = {k["key"]: example.get(k["name"], "").strip() for k in template.keywords}
    starts = timezone.localtime(activity.starts_at)
    for k in template.keywords:
        if k["rule"] == "time":
            values[k["key"]] = f"{starts.year}年{starts.month}月{starts.day}日 {starts:%H:%M}"
    first_thing = next((k["key"] for k in template.keywords if k["rule"] == "thing"), None)
    if first_thing and activity.kind in ("live_lecture", "offline"):  # the lecture's or the event's name
        values[first_thing] = activity.title.split(" · ")[0][:20]
    if validate_fields(template.keywords, values):  # an unexpected template: its example as it is
        values = {k["key"]: example.get(k["name"], "").strip() for k in template.keywords}
    return values


def ensure_demo_campaigns(account: OfficialAccount, base: str) -> Campaign | None:
    """One notice per state an operator meets first: sent (through the running worker), awaiting
    approval, scheduled. Returns the one being sent."""
    if Campaign.objects.filter(account=account).exists():
        return None
    user = get_user_model().objects.get(username=DEMO_USER)
    by_kind = {a.kind: a for a in Activity.objects.filter(account=account).prefetch_related("templates")}
    made: dict[str, Campaign] = {}
    for kind, name in [
        ("live_lecture", "直播开始提醒"),
        ("vaccine", "HPV疫苗到货通知"),
        ("offline", "义诊活动提醒"),
    ]:
        activity = by_kind.get(kind)
        template = activity.templates.first() if activity else None
        if activity is None or template is None:
            continue
        draft = Campaign(
            account=account,
            name=f"{name}：{activity.title}"[:100],
            template=template,
            audience=Campaign.Audience.ACTIVITY,
            activity=activity,
            data=demo_fields(activity, template),
            page=f"{base}/s/{activity.code}/",
            minutes_before_start=60 if kind == "offline" else None,
        )
        made[kind] = services.save(campaign=draft, user=user)
    if "offline" in made:
        services.schedule(campaign=made["offline"], user=user)
    if "vaccine" in made:
        services.submit(campaign=made["vaccine"], user=user)
    sent = made.get("live_lecture")
    if sent is not None:
        services.approve(campaign=sent, user=user)
        services.start(campaign=sent, user=user)  # the demo's worker process sends it
    return sent


def demo_api_calls(account: OfficialAccount, base: str) -> str | None:
    """A read-only token for the demo's integration, and a few real calls through the running web app (the
    console's call log shows them; one is refused, as a booking system's mistake would be). Returns the
    token's text, which is shown once, or None when the demo already has one."""
    if ApiToken.objects.filter(account=account).exists():
        return None
    user = get_user_model().objects.get(username=DEMO_USER)
    _token, text = tokens.issue(account=account, name="预约系统（演示）", scopes=["read"], user=user)
    for method, path, body in [
        ("GET", "/api/v1/me", None),
        ("GET", "/api/v1/templates", None),
        ("GET", "/api/v1/activities", None),
        ("GET", "/api/v1/campaigns?limit=10", None),
        ("POST", "/api/v1/campaigns", {"name": "试一下"}),  # a read token may not: 403 (or 422), logged
    ]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{base}{path}", data=data, method=method)  # noqa: S310 - our web app
        request.add_header("Authorization", f"Bearer {text}")
        request.add_header("Content-Type", "application/json")
        with contextlib.suppress(urllib.error.HTTPError):  # the refusal is the point: it is in the call log
            urllib.request.urlopen(request, timeout=30).read()  # noqa: S310 - our own web app
    return text


def sim_call(base: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the simulator on loopback
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def subscription_history(sim: str, account: OfficialAccount, activities: list[Activity], openids: list[str]) -> int:
    """Thirteen months of patients answering article popups (mostly accepting; more in the HPV vaccine's
    spring and autumn), pushed by the simulator with their past CreateTime through the real callback."""
    rng = random.Random(13)
    now = int(time.time())
    templates = list(dict.fromkeys(t.template_id for a in activities for t in a.templates.all()))
    calls = []
    for months_ago in range(13, -1, -1):
        for rank, template_id in enumerate(templates):
            season = 1.8 if (time.gmtime(now - months_ago * 30 * 86400).tm_mon in (3, 4, 9, 10) and rank == 0) else 1
            for _ in range(int(rng.randrange(6, 16) * season / (1 + rank * 0.4))):
                at = now - months_ago * 30 * 86400 - rng.randrange(30 * 86400)
                status = "accept" if rng.random() < 0.85 else "reject"
                body = {"choices": {template_id: status}, "popup_scene": 2, "at": max(at, now - 420 * 86400)}
                calls.append((f"/_sim/accounts/{account.appid}/patients/{rng.choice(openids)}/popup", body))
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda call: sim_call(sim, "POST", *call), calls))
    return len(calls)


def open_notifications(sim: str, account: OfficialAccount, campaign: Campaign) -> int:
    """About a third of those who got the notice tap its link in the simulator's WeChat, some twice."""
    rng = random.Random(17)
    sent = list(campaign.deliveries.filter(state="sent").values_list("openid", flat=True))
    tapping = rng.sample(sent, k=len(sent) // 3)
    for openid in tapping + tapping[: len(tapping) // 5]:
        sim_call(sim, "POST", f"/_sim/accounts/{account.appid}/patients/{openid}/open", {})
    return len(tapping)


class Command(BaseCommand):
    help = "Run the demo: migrate, demo account and login, WeChat simulator, web app and worker, demo data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("WXNOTIFY_PORT", "8000")))
        parser.add_argument("--sim-port", type=int, default=int(os.environ.get("WXSIM_PORT", "8100")))
        parser.add_argument("--no-serve", action="store_true", help="prepare the database and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0, interactive=False)
        account = ensure_demo_account()
        if options["no_serve"]:
            self.stdout.write("demo database ready")
            return
        base = f"http://127.0.0.1:{options['port']}"
        sim = f"http://127.0.0.1:{options['sim_port']}"
        callback = f"{base}/wechat/{account.appid}/callback"
        # Point the product at the simulator, as production points it at WeChat.
        env = os.environ | {
            "WXNOTIFY_PUBLIC_URL": base,
            "WECHAT_API_BASE_URL": sim,
            "WECHAT_OAUTH_AUTHORIZE_URL": f"{sim}/connect/oauth2/authorize",
            "WECHAT_JSSDK_URL": f"{sim}/_sim/jweixin-1.6.0.js",
            "WECHAT_SUBSCRIBEMSG_URL": f"{sim}/mp/subscribemsg",
            "WXNOTIFY_ALLOW_OTHER_BROWSERS": "1",  # any desktop browser may play the patient in the demo
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith("WECHAT_")})
        settings.WECHAT_API_BASE_URL = sim  # for the follower sync run from this process
        python = sys.executable
        conf = settings.BASE_DIR / "config" / "gunicorn.conf.py"
        gunicorn = (
            f"-m gunicorn config.wsgi -c {conf} --bind 127.0.0.1:{options['port']} --workers 2"
            " --threads 4 --log-level warning"
        )
        wxsim = f"-m wxsim serve --demo --port {options['sim_port']} --demo-callback {callback}"
        children = [
            subprocess.Popen([python, *wxsim.split()], env=env),  # noqa: S603 - fixed command lines
            subprocess.Popen([python, *gunicorn.split()], env=env),  # noqa: S603
            subprocess.Popen([python, "manage.py", "run_huey", "--quiet"], env=env),  # noqa: S603
        ]

        def stop(*_: Any) -> None:
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
            wait_until_up(sim + "/_sim/stats", children[0])
            wait_until_up(base + "/login/", children[1])
            if not InboundMessage.objects.filter(account=account).exists():
                self.fill_in(account, sim, callback)
            self.banner(base, sim, account, callback)
            while all(child.poll() is None for child in children):
                time.sleep(1)
            raise SystemExit("a demo process exited; stopping the others")
        except KeyboardInterrupt:
            self.stdout.write("\nstopping ...")
        finally:
            stop()

    def fill_in(self, account: OfficialAccount, sim: str, callback: str) -> None:
        """Welcomes, keyword replies and the menu's versions; fourteen months of history for 400 of the
        simulator's patients (follows, questions, menu taps), the follower list and templates from "WeChat",
        four activities, a few hundred patients subscribing through article popups, and patients acting now."""
        patients = sim_call(sim, "GET", f"/_sim/accounts/{account.appid}/patients?limit=3000")["patients"]
        openids = [p["openid"] for p in patients]
        self.stdout.write("welcomes, keyword replies and the menu (three versions, published to the simulator) ...")
        versions = ensure_demo_engagement(account, get_user_model().objects.get(username=DEMO_USER))
        messages, unfollowers = demo_messages(account, openids[:400], taps_at(versions))
        self.stdout.write(f"filling in demo data: {len(messages)} follows, menu taps and messages ...")
        push_over_http(callback, account, messages)
        for openid in unfollowers:  # they leave through the simulator, so WeChat and wxnotify agree
            sim_call(sim, "POST", f"/_sim/accounts/{account.appid}/patients/{openid}/unfollow", {})
        call_command("sync_followers", account.appid, stdout=self.stdout)
        account.one_time_template_id = sim_call(sim, "GET", f"/_sim/accounts/{account.appid}")["one_time_template_id"]
        account.save(update_fields=["one_time_template_id"])
        call_command("sync_templates", account.appid, stdout=self.stdout)
        activities = ensure_demo_activities(account)
        self.stdout.write("thirteen months of subscriptions from articles ...")
        self.stdout.write(f"  {subscription_history(sim, account, activities, openids[400:])} popups answered")
        self.stdout.write("patients subscribing from articles ...")
        rng = random.Random(11)
        for activity in activities:
            template = activity.templates.first()
            assert template is not None
            for openid in rng.sample(openids[400:], k=rng.randrange(60, 160)):
                path = f"/_sim/accounts/{account.appid}/patients/{openid}/popup"
                sim_call(sim, "POST", path, {"choices": {template.template_id: "accept"}, "popup_scene": 2})
        base = callback.split("/wechat/")[0]
        sending = ensure_demo_campaigns(account, base)
        if sending is not None:
            self.stdout.write("sending the lecture notice through the worker ...")
            for _ in range(120):
                sending.refresh_from_db()
                if sending.state not in (Campaign.State.SENDING, Campaign.State.APPROVED):
                    break
                time.sleep(0.5)
            sent = selectors.progress(sending)["sent"]
            self.stdout.write(f"  {sending.name}: {sending.get_state_display()}, {sent} sent")
            opened = open_notifications(sim, account, sending)
            self.stdout.write(f"  {opened} patients tapped 查看详情 (counted by the link's redirect)")
        if token := demo_api_calls(account, base):
            self.stdout.write(f"API: a read-only demo token (shown once): {token}")
            self.stdout.write(f"  try: curl -H 'Authorization: Bearer {token}' {base}/api/v1/templates")
        self.live_engagement(account, sim, unfollowers)
        refreshed = stats.refresh()  # the worker does it every minute; the first open should not wait for it
        self.stdout.write(f"statistics: {sum(refreshed.values())} days and months rolled up")

    def live_engagement(self, account: OfficialAccount, sim: str, unfollowers: list[str]) -> None:
        """Patients acting now, through the simulator: new follows (one from the HPV poster) get the welcome
        and, from the worker, the second message; one who had left comes back; two ask questions."""
        self.stdout.write("patients following and asking now (welcome, second message, keyword replies) ...")
        act = f"/_sim/accounts/{account.appid}/patients"
        followed = [sim_call(sim, "POST", f"{act}/new/follow", {})["openid"] for _ in range(4)]
        sim_call(sim, "POST", f"{act}/new/follow", {"scene": "poster_hpv_2026"})
        if unfollowers:
            sim_call(sim, "POST", f"{act}/{unfollowers[0]}/follow", {})
        for openid, question in zip(followed, ["HPV疫苗什么时候到？", "周六有门诊吗"], strict=False):
            sim_call(sim, "POST", f"{act}/{openid}/text", {"content": question})
        deadline = time.monotonic() + 20
        while SecondMessage.objects.filter(account=account, state="pending").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        sent = SecondMessage.objects.filter(account=account, state="sent").count()
        self.stdout.write(f"  second messages sent by the worker: {sent}")

    def patient_page(self, base: str, account: OfficialAccount) -> str:
        activity = (
            Activity.objects.filter(account=account, kind="vaccine").first()
            or Activity.objects.filter(account=account).first()
        )
        return f"{base}/s/{activity.code}/" if activity else "(no activity yet)"

    def banner(self, base: str, sim: str, account: OfficialAccount, callback: str) -> None:
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
            f"    callback URL:   {callback}",
            f"    token:          {DEMO['callback_token']}   (demo value)",
            f"    EncodingAESKey: {DEMO['encoding_aes_key']}   (demo value, safe mode)",
            f"  patient page:     {self.patient_page(base, account)}  (any browser plays a patient in the demo)",
            f"  WeChat simulator: {sim}/  (wxsim; its control API is under {sim}/_sim/)",
            f"  worker:           Huey on {'Redis' if settings.REDIS_URL else 'SQLite'}",
            f"  database:         {settings.DATABASES['default']['NAME']}",
            f"  inbound messages in the last 24 h: {recent}",
            "",
        ]
        self.stdout.write("\n".join(lines))
