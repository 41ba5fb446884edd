"""The console's pages over a campaign with 300,000 deliveries: time per page and queries per page.

`python -m benchmarks.console_lists [--deliveries 300000] [--postgres]` fills a throwaway database (SQLite
under a temp dir; with --postgres a database created for the run on DATABASE_URL's server and dropped
after), logs in with Django's test client and requests each page several times: the campaign list, the
detail page with live progress, the log's first page, a page deep in the log (keyset: same cost), the log
filtered by state and by error code, and the template's history; then the log's CSV and Excel exports of
every row and of a 2,000-row send, with the memory each held at its peak (flat: the same for both).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.throwaway import throwaway_database  # noqa: E402 - after the path is set

# Outcomes in the proportions a real hospital send shows: most sent, some refused, a few skipped.
MIX = [("sent", 0, 90), ("failed", 43101, 6), ("skipped", None, 3), ("failed", 40003, 1)]


def fill(deliveries: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from wxnotify.accounts.models import Membership, OfficialAccount
    from wxnotify.campaigns.models import Campaign, Delivery
    from wxnotify.subscriptions.models import Template

    account = OfficialAccount.objects.create(
        name="示例医院",
        appid="wx00000000000bench",
        original_id="gh_000000bench",
        app_secret="s" * 32,
        callback_token="token",
        message_mode="plaintext",
    )
    template = Template.objects.create(
        account=account,
        template_id="bench-template",
        title="疫苗到货通知",
        content="疫苗名称:{{thing1.DATA}}",
        kind=Template.Kind.ONE_TIME,
        keywords=[{"key": "thing1", "name": "疫苗名称", "rule": "thing"}],
    )
    user = get_user_model().objects.create_user("bench", password="x")
    Membership.objects.create(user=user, account=account, role="administrator")
    now = timezone.now()
    campaigns = []
    for i, size in enumerate([deliveries] + [2_000] * 29):  # one big send and 29 ordinary ones
        campaign = Campaign.objects.create(
            account=account,
            name=f"第 {i + 1} 次发送",
            template=template,
            audience=Campaign.Audience.TEMPLATE,
            data={"thing1": "九价HPV疫苗"},
            state=Campaign.State.COMPLETED,
            started_at=now,
            finished_at=now,
        )
        campaigns.append(campaign)
        pattern = [(state, code) for state, code, weight in MIX for _ in range(weight)]
        batch = []
        for n in range(size):
            state, code = pattern[n % len(pattern)]
            batch.append(
                Delivery(
                    campaign=campaign,
                    openid=f"o{n:027d}",
                    state=state,
                    errcode=code,
                    msgid=n if state == "sent" else None,
                    attempts=1,
                    finished_at=now,
                )
            )
            if len(batch) == 10_000:
                Delivery.objects.bulk_create(batch)
                batch = []
        Delivery.objects.bulk_create(batch)
    return {"user": user, "big": campaigns[0], "small": campaigns[1], "template": template}


def export_cost(client: Any, url: str) -> dict[str, Any]:
    """Seconds, size, and the most memory Python held while answering (tracemalloc's peak, in a second
    request: tracing slows it). Flat means the same peak for 2,000 rows as for 300,000."""
    import tracemalloc

    def fetch() -> int:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return sum(len(chunk) for chunk in response.streaming_content)

    t = time.perf_counter()
    size = fetch()
    seconds = time.perf_counter() - t
    tracemalloc.start()
    try:
        fetch()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"seconds": round(seconds, 2), "megabytes": round(size / 1e6, 1), "peak_python_mb": round(peak / 1e6, 1)}


def measure(deliveries: int, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    started = time.perf_counter()
    data = fill(deliveries)
    fill_seconds = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    client = Client()
    client.force_login(data["user"])
    big, template = data["big"], data["template"]
    middle = sorted(big.deliveries.values_list("id", flat=True))[deliveries // 2]  # a cursor half-way down
    pages = {
        "campaign list": "/campaigns/",
        "campaign detail": f"/campaigns/{big.pk}/",
        "live progress (every 2 s)": f"/campaigns/{big.pk}/?partial=progress",
        "log, first page": f"/campaigns/{big.pk}/log/",
        "log, page in the middle": f"/campaigns/{big.pk}/log/?before={middle}",
        "log, failed only": f"/campaigns/{big.pk}/log/?state=failed",
        "log, errcode 40003": f"/campaigns/{big.pk}/log/?errcode=40003",
        "log, one openid": f"/campaigns/{big.pk}/log/?openid=o{deliveries // 3:027d}",
        "template history": f"/campaigns/templates/{template.pk}/history/",
    }
    results: dict[str, Any] = {}
    for label, url in pages.items():
        times, queries = [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                t = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - t)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured)
        results[label] = {"median_ms": round(1000 * statistics.median(times), 1), "queries": queries}
    small = data["small"]
    for fmt in ("csv", "xlsx"):
        results[f"{fmt.upper()} export, every row"] = export_cost(client, f"/campaigns/{big.pk}/log.{fmt}")
        results[f"{fmt.upper()} export, a 2,000-row send"] = export_cost(client, f"/campaigns/{small.pk}/log.{fmt}")
    return {
        "database": connection.vendor,
        "deliveries in the big send": deliveries,
        "other sends": 29,
        "fill_seconds": round(fill_seconds, 1),
        "pages": results,
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="on DATABASE_URL's server (default: SQLite)")
    args = parser.parse_args()
    os.environ["WXNOTIFY_ALLOWED_HOSTS"] = "testserver"
    with throwaway_database(postgres=args.postgres, prefix="lists"):
        result = measure(args.deliveries, args.repeat)
    from benchmarks.summary import record

    record(f"console_lists_{result['database']}", result)
    return result


if __name__ == "__main__":
    main()
