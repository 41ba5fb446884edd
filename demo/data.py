"""What the demo holds: the hospital account and its login, fourteen months of patients' history, the
activities, a notification in each state an operator meets first, an API token and its calls.

Everything is made through the product's own services or, for what patients do, through the
simulator and the real callback, so that the console shows what a hospital would see.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from wechat.messages import FollowEvent, MenuClickEvent, MenuViewEvent, Message, ScanEvent, TextMessage
from wxnotify.accounts.models import Membership, MessageMode, OfficialAccount, Role
from wxnotify.api import tokens
from wxnotify.api.models import ApiToken
from wxnotify.campaigns import services
from wxnotify.campaigns.models import Campaign
from wxnotify.subscriptions.models import Activity, Template
from wxnotify.subscriptions.validation import validate_fields
from wxsim.client import Simulator

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


def subscription_history(
    sim: Simulator, account: OfficialAccount, activities: list[Activity], openids: list[str]
) -> int:
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
                calls.append((rng.choice(openids), body))
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda call: sim.act(account.appid, call[0], "popup", **call[1]), calls))
    return len(calls)


def open_notifications(sim: Simulator, account: OfficialAccount, campaign: Campaign) -> int:
    """About a third of those who got the notice tap its link in the simulator's WeChat, some twice."""
    rng = random.Random(17)
    sent = list(campaign.deliveries.filter(state="sent").values_list("openid", flat=True))
    tapping = rng.sample(sent, k=len(sent) // 3)
    for openid in tapping + tapping[: len(tapping) // 5]:
        sim.act(account.appid, openid, "open")
    return len(tapping)
