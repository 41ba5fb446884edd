"""PRIVACY.md promises that wxnotify's own log lines name no OpenID (and the secrets policy, that none names a
secret): a send that meets every kind of trouble, WeChat's pushes and refused forgeries, a revival and an
erasure, with every logger at DEBUG — nothing logged carries a patient's OpenID, the AppSecret or a token."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model

from tests.campaigns.test_sending_on_wxsim import run_engines
from wxnotify.accounts.models import SharedCredential
from wxnotify.campaigns import services
from wxnotify.campaigns.models import Campaign, Delivery
from wxnotify.privacy import services as privacy

pytestmark = pytest.mark.django_db(transaction=True)
BIZSEND = "/cgi-bin/message/subscribe/bizsend"


def test_no_log_line_names_a_patient_or_a_secret(sending, client, caplog, settings):
    account, sim, template, subscribers, campaign = sending
    caplog.set_level(logging.DEBUG)
    openids = subscribers(60)
    settings.WECHAT_HTTP_TIMEOUT = 0.5
    for fault in (  # counted, not by chance: every kind happens on every run
        {"errcode": -1, "errmsg": "system error", "count": 5},  # retried
        {"timeout": True, "count": 2},  # unknown, then settled by WeChat's report
        {"errcode": 43101, "errmsg": "user refuse to accept the msg", "count": 3},  # failed for this person
    ):
        sim.post("/_sim/faults", {"path": BIZSEND} | fault)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    sim.post(f"/_sim/accounts/{account.appid}/invalidate-token", {})  # the client logs its refresh
    run_engines(c.pk, 2)
    sim.request("DELETE", "/_sim/faults")
    sim.drain()  # WeChat's delivery reports through the callback
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED
    assert Delivery.objects.filter(campaign=c, state="failed").exists()  # the trouble really happened
    # A forged push and a replayed one are refused and logged.
    assert (
        client.post(
            f"/wechat/{account.appid}/callback?signature=x&timestamp=1&nonce=2", b"<xml/>", content_type="text/xml"
        ).status_code
        == 403
    )
    # A send nobody works on is revived, its stalled rows logged.
    stalled = campaign(name="夜里的一次发送")
    services.start(campaign=stalled, user=None, workers=0)
    Campaign.objects.filter(pk=stalled.pk).update(woken_at=None)
    services.revive_stalled()
    # An erasure on request.
    admin = get_user_model().objects.create_user("dpo", password="x" * 12)
    privacy.erase(account=account, openid=openids[0], user=admin, why="患者来电要求删除")

    logged = [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    assert len(logged) > 5, logged  # the run did log: retries, refusals, the revival, the erasure
    secrets = [account.app_secret, account.encoding_aes_key, *account.encoding_aes_keys]
    tokens = [c.value for c in SharedCredential.objects.filter(account=account)]
    assert tokens and all(tokens)  # the token the send used (refreshed once) is among what must not show
    secrets += tokens
    for line in logged:
        assert not [o for o in openids if o in line], line
        assert not [s for s in secrets if s and s in line], line
