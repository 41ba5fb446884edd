"""What the usual in-house script does, as a yardstick (`peer_rps`): a sequential `requests` loop over the
subscribers, one bizsend each, saving each answer with the ORM (one delivery row per send).

`python -m benchmarks.peer [--recipients 3000] [--postgres]` on a throwaway database and its own simulator.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bare_loop import DATA, prepare  # noqa: E402
from benchmarks.summary import record  # noqa: E402
from benchmarks.throwaway import throwaway_database  # noqa: E402
from wxsim.client import Simulator  # noqa: E402


def peer_script(sim: str, world: dict[str, Any]) -> dict[str, Any]:
    import requests
    from django.utils import timezone

    from wxnotify.accounts.models import OfficialAccount
    from wxnotify.campaigns.models import Campaign, Delivery
    from wxnotify.subscriptions.models import Template

    account = OfficialAccount.objects.create(
        name="peer", appid=world["appid"], original_id="gh_peer", app_secret=world["secret"], callback_token="t"
    )
    template = Template.objects.create(
        account=account, template_id=world["template_id"], title="疫苗到货通知", kind=Template.Kind.ONE_TIME
    )
    campaign = Campaign.objects.create(
        account=account, name="peer", template=template, audience=Campaign.Audience.TEMPLATE, data=DATA
    )
    url = f"{sim}/cgi-bin/message/subscribe/bizsend"
    session = requests.Session()
    started = time.perf_counter()
    for openid in world["openids"]:
        body = {
            "touser": openid,
            "template_id": world["template_id"],
            "data": {k: {"value": v} for k, v in DATA.items()},
        }
        answer = session.post(
            url,
            params={"access_token": world["token"]},
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            timeout=10,
        ).json()
        Delivery.objects.create(
            campaign=campaign,
            openid=openid,
            state=Delivery.State.SENT if answer.get("errcode") == 0 else Delivery.State.FAILED,
            errcode=answer.get("errcode"),
            errmsg=answer.get("errmsg", "")[:255],
            msgid=answer.get("msgid"),
            attempts=1,
            finished_at=timezone.now(),
        )
    elapsed = time.perf_counter() - started
    sent = Delivery.objects.filter(campaign=campaign, state=Delivery.State.SENT).count()
    return {"sent": sent, "seconds": round(elapsed, 2), "peer_rps": round(sent / elapsed, 1)}


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--postgres", action="store_true", help="on DATABASE_URL's server (default: SQLite)")
    parser.add_argument("--port", type=int, default=8177)
    args = parser.parse_args()
    with throwaway_database(postgres=args.postgres, prefix="peer"):
        simulator = subprocess.Popen([sys.executable, "-m", "wxsim", "serve", "--port", str(args.port)], cwd=ROOT)
        sim = f"http://127.0.0.1:{args.port}"
        try:
            Simulator(sim).wait_until_up(process=simulator)
            world = prepare(sim, args.recipients, appid="wxpeer00000000001")
            result = peer_script(sim, world)
            received = Simulator(sim).received(world["appid"], template_id=world["template_id"])
        finally:
            simulator.terminate()
            simulator.wait(timeout=30)
    database = "postgresql" if args.postgres else "sqlite"
    return {"recipients": args.recipients, "database": database, **result, "received": received["total"]}


if __name__ == "__main__":
    os.environ.setdefault("WXNOTIFY_LOG_LEVEL", "WARNING")
    record("peer", main())
