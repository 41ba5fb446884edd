"""The statistics pages over a big history: server time per page, and how long a full rebuild takes.

`python -m benchmarks.stats_pages [--taps 10000000] [--subscriptions 1000000] [--postgres]` fills a throwaway
database (SQLite under a temp dir; with --postgres one made on DATABASE_URL's server) with 400 days of raw
events written by SQL (menu taps each with its stored push, subscription events, follows and unfollows, and
a send every eight days whose deliveries, as many as the subscription events, WeChat reports on),
rebuilds every rollup from them (`stats.services.rebuild`, what `manage.py rebuild_stats` runs), then asks
each statistics page several times through Django's test client and reports the median server time.
Goal: every page ≤ 300 ms on either database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.summary import record  # noqa: E402
from benchmarks.throwaway import throwaway_database  # noqa: E402

DAYS = 400
PEOPLE = 200_000
GOAL_MS = 300


def series(n: int, postgres: bool) -> str:
    """A row per number 1..n, as `n` (PostgreSQL's generate_series; SQLite's recursive CTE)."""
    if postgres:
        return f"SELECT generate_series(1::bigint, {n}::bigint) AS n"
    return f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) SELECT n FROM s"


def moment(seconds: str, start: str, postgres: bool) -> str:
    """A timestamp `seconds` after `start` (UTC), as each database stores Django's DateTimeField."""
    if postgres:
        return f"(TIMESTAMPTZ '{start}+00' + ({seconds}) * INTERVAL '1 second')"
    return f"strftime('%Y-%m-%d %H:%M:%f', '{start}', '+' || ({seconds}) || ' seconds')"


def fill(taps: int, subscriptions: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from wxnotify.accounts.models import Membership, OfficialAccount
    from wxnotify.engagement.models import MenuItem, MenuVersion, MenuVersionItem
    from wxnotify.subscriptions.models import Activity, Template

    postgres = connection.vendor == "postgresql"
    account = OfficialAccount.objects.create(
        name="示例医院",
        appid="wx00000000000bench",
        original_id="gh_000000bench",
        app_secret="s" * 32,
        callback_token="token",
        message_mode="plaintext",
    )
    user = get_user_model().objects.create_user("bench", password="x")
    Membership.objects.create(user=user, account=account, role="administrator")
    templates = [
        Template.objects.create(
            account=account, template_id=f"bench-{i}", title=f"通知模板 {i}", content="", kind=1, keywords=[]
        )
        for i in range(6)
    ]
    now = timezone.now()
    for i in range(8):
        activity = Activity.objects.create(account=account, title=f"活动 {i}", kind="lecture", starts_at=now)
        activity.templates.set(templates[i % 3 : i % 3 + 2])
    start = (now - timedelta(days=DAYS)).strftime("%Y-%m-%d %H:%M:%S")
    items = [MenuItem.objects.create(account=account) for _ in range(12)]
    versions = []
    for number, live in ((1, now - timedelta(days=DAYS + 1)), (2, now - timedelta(days=DAYS // 2))):
        version = MenuVersion.objects.create(account=account, number=number, source="published", live_from=live)
        for position, item in enumerate(items):
            name = f"菜单项 {position}" if number == 1 or position % 4 else f"新名称 {position}"  # some renamed
            MenuVersionItem.objects.create(
                version=version, item=item, position=position, name=name, type="click", key=f"K{position}"
            )
        versions.append(version)
    a, first_item, v1, v2 = account.pk, items[0].pk, versions[0].pk, versions[1].pk
    spread = f"(n * {DAYS * 86400 - 60} / {max(taps, 1)})"
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # Menu taps: each with the push it came in (the real schema), 12 items with a skew, 200,000 people.
        cursor.execute(
            "INSERT INTO callbacks_inboundmessage (id, account_id, dedupe_key, msg_type, event, openid, created_at,"
            " received_at, times_received, encrypted, body) "
            f"SELECT n, {a}, 'bench-' || n, 'event', 'CLICK', 'o' || ((n * 7919) % {PEOPLE}), "
            f"{moment(spread, start, postgres)}, {moment(spread, start, postgres)}, 1, {'false' if postgres else 0}, ''"
            f" FROM ({series(taps, postgres)}) t"
        )
        cursor.execute(
            "INSERT INTO engagement_menutap (account_id, inbound_id, openid, at, event, value, item_id, version_id) "
            f"SELECT {a}, n, 'o' || ((n * 7919) % {PEOPLE}), {moment(spread, start, postgres)}, 'CLICK', 'K', "
            f"{first_item} + ((n * n) % 12) % (1 + n % 12), CASE WHEN n < {taps // 2} THEN {v1} ELSE {v2} END"
            f" FROM ({series(taps, postgres)}) t"
        )
        # Subscription events: 85 % accepts, over the templates and activities.
        sub_spread = f"(n * {DAYS * 86400 - 60} / {max(subscriptions, 1)})"
        activity_ids = list(Activity.objects.filter(account=account).values_list("pk", flat=True))
        cursor.execute(
            "INSERT INTO subscriptions_subscriptionevent (account_id, template_id, openid, kind, source, activity_id,"
            " occurred_at) "
            f"SELECT {a}, {templates[0].pk} + (n % 6), 'o' || ((n * 104729) % {PEOPLE}), "
            "CASE WHEN n % 100 < 85 THEN 'accept' ELSE 'reject' END, 'article', "
            f"CASE WHEN n % 3 = 0 THEN NULL ELSE {min(activity_ids)} + (n % 8) END, {moment(sub_spread, start, postgres)}"
            f" FROM ({series(subscriptions, postgres)}) t"
        )
        # Followers: a tenth of the people follow (some from QR posters), a tenth of those leave again.
        follows = max(1, PEOPLE // 10 if taps >= 1_000_000 else taps // 50)
        f_spread = f"(n * {DAYS * 86400 - 60} / {follows})"
        cursor.execute(
            "INSERT INTO followers_follower (id, account_id, openid, is_following, qr_scene, source) "
            f"SELECT n, {a}, 'f' || n, {'n % 10 <> 0' if postgres else '(n % 10 <> 0)'}, "
            "CASE WHEN n % 3 = 0 THEN 'poster_' || (n % 4) ELSE '' END, "
            "CASE WHEN n % 3 = 0 THEN 'ADD_SCENE_QR_CODE' ELSE 'ADD_SCENE_SEARCH' END"
            f" FROM ({series(follows, postgres)}) t"
        )
        cursor.execute(
            "INSERT INTO followers_followerchange (account_id, follower_id, kind, qr_scene, occurred_at) "
            f"SELECT {a}, n, 'follow', CASE WHEN n % 3 = 0 THEN 'poster_' || (n % 4) ELSE '' END, "
            f"{moment(f_spread, start, postgres)} FROM ({series(follows, postgres)}) t"
        )
        cursor.execute(
            "INSERT INTO followers_followerchange (account_id, follower_id, kind, qr_scene, occurred_at) "
            f"SELECT {a}, n, 'unfollow', '', {moment(f_spread + ' + 86400', start, postgres)}"
            f" FROM ({series(follows, postgres)}) t WHERE n % 10 = 0"
        )
        # Sends: one every eight days, their deliveries as many as the subscription events, settled over the
        # send's first hours (90 % sent and reported by WeChat, 6 % refused, 3 % skipped, 1 % unknown).
        sends, last_send = fill_sends(cursor, account, templates, user, subscriptions, now, postgres)
        if not postgres:
            cursor.execute("PRAGMA foreign_key_check")
            broken = cursor.fetchall()[:5]
            assert not broken, broken
    fill_seconds = time.perf_counter() - began
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {
        "user": user,
        "account": account,
        "fill_seconds": fill_seconds,
        "follows": follows,
        "sends": sends,
        "last_send": last_send,
    }


def fill_sends(
    cursor: Any, account: Any, templates: list[Any], user: Any, deliveries: int, now: Any, postgres: bool
) -> tuple[int, int]:
    from wxnotify.campaigns import tally
    from wxnotify.campaigns.models import Campaign, DeliveryTally

    count = DAYS // 8
    last = 0
    per_send = max(1, deliveries // count)
    for i in range(count):
        started = now - timedelta(days=DAYS - 8 * i)
        campaign = Campaign.objects.create(
            account=account,
            name=f"第 {i + 1} 次发送",
            template=templates[i % 6],
            audience=Campaign.Audience.TEMPLATE,
            data={},
            page="https://www.example-hospital.cn/news" if i % 4 else "",
            state=Campaign.State.COMPLETED,
            started_at=started,
            finished_at=started + timedelta(hours=3),
            created_by=user,
        )
        start = started.strftime("%Y-%m-%d %H:%M:%S")
        settled = moment("n % 10800", start, postgres)
        state = (
            "CASE WHEN n % 100 < 90 THEN 'sent' WHEN n % 100 < 96 THEN 'failed' "
            "WHEN n % 100 < 99 THEN 'skipped' ELSE 'unknown' END"
        )
        cursor.execute(
            "INSERT INTO campaigns_delivery (campaign_id, openid, state, attempts, errcode, errmsg, msgid, worker,"
            " finished_at, confirmed_at, attempt_started_at) "
            f"SELECT {campaign.pk}, 'o' || n, {state}, 1, "
            "CASE WHEN n % 100 < 90 THEN 0 WHEN n % 100 < 96 THEN 43101 ELSE NULL END, "
            "CASE WHEN n % 100 >= 96 AND n % 100 < 99 THEN 'no subscription credit' ELSE '' END, "
            f"CASE WHEN n % 100 < 90 THEN {i * per_send} + n ELSE NULL END, '', "
            f"CASE WHEN n % 100 < 99 THEN {settled} ELSE NULL END, "
            f"CASE WHEN n % 100 < 90 THEN {moment('n % 10800 + 5', start, postgres)} ELSE NULL END, {settled}"
            f" FROM ({series(per_send, postgres)}) t"
        )
        tally.recount(campaign.pk)
        last = campaign.pk
        # Counts last moved when the send finished (not now: the refresh would take them all for new).
        DeliveryTally.objects.filter(campaign=campaign).update(changed_at=campaign.finished_at)
    return count, last


def measure(taps: int, subscriptions: int, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from wxnotify.stats import services

    data = fill(taps, subscriptions)
    began = time.perf_counter()
    rebuilt = services.rebuild()
    rebuild_seconds = time.perf_counter() - began
    began = time.perf_counter()
    services.refresh()  # nothing new: what the minute task costs when idle
    idle_refresh_ms = 1000 * (time.perf_counter() - began)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    client = Client()
    client.force_login(data["user"])
    today = timezone.localdate()
    last_month = f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"
    pages = {
        "subscriptions, 13 months": "/stats/subscriptions/",
        "menu, 13 months by month": "/stats/menu/",
        "menu, 13 months by day": "/stats/menu/?by=day",
        "followers, 13 months by week": "/stats/followers/?by=week",
        "sends side by side": "/stats/notifications/",
        "outcomes by day": "/stats/notifications/?by=day",
        "one send": f"/stats/notifications/{data['last_send']}/",
        "sparklines (notification list)": "/stats/sparklines.json",
        "monthly report": f"/stats/report/?month={last_month}",
        "menu as Excel": "/stats/menu/?format=xlsx",
    }
    results: dict[str, Any] = {}
    for label, url in pages.items():
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            times.append(time.perf_counter() - t)
            assert response.status_code == 200, (url, response.status_code)
        results[label] = round(1000 * statistics.median(times), 1)
    return {
        "database": connection.vendor,
        "menu_taps": taps,
        "subscription_events": subscriptions,
        "follows": data["follows"],
        "sends": data["sends"],
        "fill_seconds": round(data["fill_seconds"], 1),
        "rebuild_seconds": round(rebuild_seconds, 1),
        "rebuilt_periods": rebuilt,
        "idle_refresh_ms": round(idle_refresh_ms, 1),
        "pages_median_ms": results,
        "slowest_page_ms": max(results.values()),
        "goal_ms": GOAL_MS,
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--taps", type=int, default=10_000_000)
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    os.environ["WXNOTIFY_ALLOWED_HOSTS"] = "testserver"  # Django's test client
    with throwaway_database(postgres=args.postgres, prefix="stats"):
        result = measure(args.taps, args.subscriptions, args.repeat)
    result["command"] = "python -m benchmarks.stats_pages " + " ".join(sys.argv[1:])
    record("stats_pages", result)
    return result


if __name__ == "__main__":
    main()
