"""A whole notification driven through the API alone, from outside, as a hospital's booking system would:
the web app under gunicorn, a real worker process, the simulated WeChat, an HTTP webhook receiver.

Create an activity → simulated patients subscribe in WeChat (their pushes reach the app's callback) →
create the notification (twice at once, one Idempotency-Key) → submit → approve with a second person's
token (two-person rule) → start (twice at once, one key) → poll → every recipient accounted for → the
signed "finished" event arrives once."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.api.receiver import webhook_receiver
from tests.api.test_tokens_and_reads import person
from tests.conftest import VACCINE_FIELDS, link_account, queue_worker, running_web_app, vaccine_template
from wxnotify.api import tokens, webhooks
from wxnotify.campaigns.models import Campaign
from wxsim.testing import running_simulator

pytestmark = pytest.mark.django_db(transaction=True)
PATIENTS = 24


def test_a_notification_through_the_api_alone(make_account):
    account = make_account(mode="safe", require_second_approver=True)
    operator, approver = person(account, "operator", "op"), person(account, "approver", "ap")
    _t, maker = tokens.issue(account=account, name="预约系统", scopes=["read", "write", "send"], user=operator)
    _t, checker = tokens.issue(account=account, name="审核", scopes=["read", "send"], user=approver)
    queue = {
        "WXNOTIFY_QUEUE_NAME": f"e2e-{uuid.uuid4().hex[:8]}",
        "WXNOTIFY_QUEUE_FILE": f"queue-e2e-{uuid.uuid4().hex[:8]}.sqlite3",
    }
    with (
        running_simulator(delivery_timeout=3.0, sent_event_delay=0.0) as sim,
        webhook_receiver() as receiver,
        running_web_app(workers=1, threads=4, WECHAT_API_BASE_URL=sim.base_url, **queue) as (base, log),
        queue_worker(WECHAT_API_BASE_URL=sim.base_url, **queue),  # the web app's queue: it takes the sends
    ):
        link_account(sim, account, callback_url=f"{base}/wechat/{account.appid}/callback")
        template_id = vaccine_template(sim, account).template_id
        _hook, receiver.secret = webhooks.add(account=account, url=receiver.url, events=[], user=None)

        def call(method: str, path: str, token: str = maker, **kw) -> requests.Response:
            return requests.request(
                method,
                f"{base}/api/v1{path}",
                headers={"Authorization": f"Bearer {token}"} | kw.pop("headers", {}),
                timeout=30,
                **kw,
            )

        activity = call(
            "POST",
            "/activities",
            json={
                "title": "九价HPV疫苗到货",
                "kind": "vaccine",
                "starts_at": "2027-01-10T09:00:00+08:00",
                "templates": [template_id],
            },
        )
        assert activity.status_code == 201, activity.text
        activity_id = activity.json()["id"]

        # Patients tap "subscribe" in the article about it: WeChat pushes each accept to the app.
        openids = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": PATIENTS})["openids"]
        for openid in openids:
            answer = sim.post(
                f"/_sim/accounts/{account.appid}/patients/{openid}/popup",
                {"choices": {template_id: "accept"}, "popup_scene": 2},
            )
            assert answer["delivery"]["ok"]
        counted = call("GET", f"/activities/{activity_id}").json()["subscribers"][template_id]
        assert counted == {"historical": PATIENTS, "current": PATIENTS}

        notification = {
            "name": "九价HPV疫苗到货",
            "template": template_id,
            "audience": "activity",
            "activity": activity_id,
            "fields": VACCINE_FIELDS,
            "page": "https://hospital.example.org/hpv",
        }
        with ThreadPoolExecutor(2) as pool:  # the booking system sent it twice (a timeout, a retry)
            both = list(
                pool.map(
                    lambda _: call("POST", "/campaigns", json=notification, headers={"Idempotency-Key": "order-7781"}),
                    range(2),
                )
            )
        assert [r.status_code for r in both] == [201, 201] and both[0].json()["id"] == both[1].json()["id"]
        assert sorted(r.headers.get("Idempotent-Replayed", "") for r in both) == ["", "true"]
        campaign_id = both[0].json()["id"]
        assert Campaign.objects.filter(account=account).count() == 1

        assert call("POST", f"/campaigns/{campaign_id}/submit").json()["state"] == "awaiting_approval"
        refused = call("POST", f"/campaigns/{campaign_id}/approve")  # the operator's own token
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        approved = call("POST", f"/campaigns/{campaign_id}/approve", token=checker)
        assert approved.status_code == 200 and approved.json()["state"] == "approved"

        with ThreadPoolExecutor(2) as pool:
            starts = list(
                pool.map(
                    lambda _: call("POST", f"/campaigns/{campaign_id}/start", headers={"Idempotency-Key": "go-7781"}),
                    range(2),
                )
            )
        assert [r.status_code for r in starts] == [200, 200] and starts[0].text == starts[1].text
        retried = call("POST", f"/campaigns/{campaign_id}/start", headers={"Idempotency-Key": "go-7781"})
        assert retried.status_code == 200 and retried.headers["Idempotent-Replayed"] == "true"

        deadline, status = time.monotonic() + 90, {}
        while time.monotonic() < deadline:
            status = call("GET", f"/campaigns/{campaign_id}").json()
            if status["state"] == "completed":
                break
            time.sleep(0.5)
        assert status["state"] == "completed", (status, log.read_text()[-2000:])
        assert status["progress"]["total"] == PATIENTS and status["progress"]["sent"] == PATIENTS

        listed, before = [], None
        while True:
            page = call("GET", f"/campaigns/{campaign_id}/deliveries", params={"limit": 10, "before": before}).json()
            listed += page["items"]
            if not (before := page["next_before"]):
                break
        assert sorted(d["openid"] for d in listed) == sorted(openids) and {d["state"] for d in listed} == {"sent"}
        sends = sum(sim.get("/_sim/stats")["calls"]["/cgi-bin/message/subscribe/bizsend"].values())  # by errcode
        assert sends == PATIENTS  # each patient once, despite the doubled create and start

        (event,) = receiver.wait_for(1)
        time.sleep(1.5)  # nothing else follows
        assert len(receiver.got) == 1 and event.signature_ok and event.fresh
        assert event.event == "campaign.finished" and event.body["campaign"]["id"] == campaign_id
        counts = event.body["campaign"]["counts"]
        assert counts["sent"] == counts["total"] == PATIENTS and counts["failed"] == counts["unknown"] == 0
