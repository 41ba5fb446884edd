"""1,000 simulated patients subscribe at once, a tenth of the pushes meet a slow product and are
retried by "WeChat": every count comes out exact."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import transaction
from django.db.models import Sum

from tests.conftest import link_account, wait_for_live_server_requests
from tests.subscriptions.conftest import make_activity, make_template
from wechat.messages import SubscribePopupEvent
from wxnotify.callbacks import dispatch
from wxnotify.callbacks.models import InboundMessage
from wxnotify.subscriptions import services
from wxnotify.subscriptions.models import Subscription, SubscriptionEvent
from wxsim.testing import running_simulator

pytestmark = pytest.mark.django_db(transaction=True)
PATIENTS = 1000


def test_a_thousand_concurrent_subscriptions_with_retries_count_exactly(make_account, live_server, settings):
    account = make_account(mode="safe")
    with running_simulator(delivery_timeout=2.0) as sim:
        link_account(sim, account, callback_url=f"{live_server.url}/wechat/{account.appid}/callback")
        template_id = sim.post(f"/_sim/accounts/{account.appid}/templates", {"tid": 5004, "kid_list": [1, 2]})[
            "priTmplId"
        ]
        template = make_template(account, template_id=template_id)
        activity = make_activity(account, template)
        openids = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": PATIENTS})["openids"]
        slow = set(openids[::10])
        seen: set[str] = set()

        def slow_for_some(account_, event, inbound):
            if event.openid in slow and event.openid not in seen:
                seen.add(event.openid)
                # Stored and committed, but the answer comes later than WeChat's (here 2 s: enough that a busy
                # two-core CI machine does not time out the ordinary pushes too) patience:
                # the retry finds the push already there.
                transaction.on_commit(lambda: time.sleep(2.3))
            return None

        def subscribe(openid: str) -> dict:
            return sim.post(
                f"/_sim/accounts/{account.appid}/patients/{openid}/popup",
                {"choices": {template_id: "accept"}, "popup_scene": 2},
            )["delivery"]

        with dispatch.handling(slow_for_some, SubscribePopupEvent), ThreadPoolExecutor(max_workers=12) as pool:
            deliveries = list(pool.map(subscribe, openids))
        stats = sim.get("/_sim/stats")["deliveries"]

    assert all(d["ok"] for d in deliveries)
    retried = sum(len(d["attempts"]) > 1 for d in deliveries)
    assert retried >= len(slow)  # the slow tenth at least was delivered twice
    assert stats["retries"] >= len(slow)
    rows = InboundMessage.objects.filter(account=account, event="subscribe_msg_popup_event")
    assert rows.count() == PATIENTS
    assert (
        rows.aggregate(n=Sum("times_received"))["n"] == PATIENTS + stats["retries"]
    )  # every retry counted, none applied
    assert Subscription.objects.filter(template=template).count() == PATIENTS
    assert set(Subscription.objects.filter(template=template).values_list("credits", flat=True)) == {1}
    assert SubscriptionEvent.objects.filter(template=template, kind="accept").count() == PATIENTS
    assert services.template_counts(account)[template.pk] == services.Counts(PATIENTS, PATIENTS)
    assert services.activity_counts(activity)[template.pk] == services.Counts(PATIENTS, PATIENTS)
    wait_for_live_server_requests()  # the slow answers WeChat gave up on end before the data is flushed
