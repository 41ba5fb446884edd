"""A push's signature proves less than it seems: replays, old or future timestamps and plaintext parts.

`signature` covers token, timestamp and nonce, not the body. Whoever saw one push (a proxy log, a
mirrored port) could post any body under it. These tests are the security probe's attacks.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from tests.conftest import as_account, fixture_xml
from wechat.push import build_push
from wechat.signature import callback_signature
from wechat.xmlcodec import render_compatible_push
from wxnotify.callbacks.models import InboundMessage, PushNonce, RefusedPushes
from wxnotify.callbacks.services import prune_nonces
from wxnotify.followers.models import FollowerChange

DAY = 86400


def post(client, account, query, body):
    return client.post(f"/wechat/{account.appid}/callback?{urlencode(query)}", data=body, content_type="text/xml")


def signed(account, xml, *, mode=None, timestamp=None, nonce=None):
    return build_push(
        xml,
        token=account.callback_token,
        appid=account.appid,
        mode=mode or account.message_mode,
        encoding_aes_key=account.encoding_aes_key,
        timestamp=timestamp,
        nonce=nonce,
    )


def test_a_compatible_push_reposted_as_plaintext_under_its_signature_is_refused(client, make_account):
    """The probe's first hole: 195 of 195 such forgeries were stored."""
    account = make_account(mode="compatible")
    real = signed(account, as_account(fixture_xml("follow.xml"), account))
    assert post(client, account, real.query, real.body).status_code == 200

    forged_query = {k: real.query[k] for k in ("signature", "timestamp", "nonce")}
    forged_body = as_account(fixture_xml("unfollow.xml"), account)
    response = post(client, account, forged_query, forged_body)
    assert response.status_code == 403
    assert list(InboundMessage.objects.values_list("event", flat=True)) == ["subscribe"]


def test_in_compatible_mode_only_the_encrypted_part_counts(client, make_account):
    """The plaintext copy beside <Encrypt> is not covered by msg_signature: a changed copy changes nothing."""
    account = make_account(mode="compatible")
    xml = as_account(fixture_xml("follow.xml"), account)
    real = signed(account, xml)
    envelope_encrypt = real.body.decode().split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    tampered_plain = xml.replace(b"otFpruAK8D-E6EfStSYonYSBZ8_4", b"oATTACKERxxxxxxxxxxxxxxxxxxx")
    body = render_compatible_push(tampered_plain, encrypt=envelope_encrypt)
    assert post(client, account, real.query, body).status_code == 200
    assert list(InboundMessage.objects.values_list("openid", flat=True)) == ["otFpruAK8D-E6EfStSYonYSBZ8_4"]


def test_a_replayed_signature_with_another_body_is_refused_and_an_identical_retry_is_not(client, make_account):
    account = make_account(mode="plaintext")
    follow = as_account(fixture_xml("follow.xml"), account)
    real = signed(account, follow)
    assert post(client, account, real.query, real.body).status_code == 200

    unfollow = as_account(fixture_xml("unfollow.xml"), account)
    replay = post(client, account, real.query, unfollow)
    assert replay.status_code == 403
    assert "重放" in replay.content.decode()

    retry = post(client, account, real.query, real.body)  # the same push again, as a WeChat retry may be
    assert retry.status_code == 200 and retry.content == b"success"
    row = InboundMessage.objects.get(account=account)
    assert (row.event, row.times_received) == ("subscribe", 2)
    assert FollowerChange.objects.filter(account=account).count() == 1


def test_the_replay_cache_is_per_account(client, make_account):
    """The same nonce at two hospitals is a coincidence, not a replay."""
    a, b = make_account(mode="plaintext"), make_account(mode="plaintext")
    ts = int(time.time())
    for account, name in ((a, "follow.xml"), (b, "unfollow.xml")):
        push = signed(account, as_account(fixture_xml(name), account), timestamp=ts, nonce="1234567890")
        assert post(client, account, push.query, push.body).status_code == 200
    assert InboundMessage.objects.count() == 2


def test_two_pushes_that_drew_the_same_nonce_in_different_seconds_are_both_stored(client, make_account):
    """WeChat's nonces have ten digits: a big send's 100,000 delivery reports inside the window draw the same
    one about once (make chaos met it). A replay reuses the timestamp too — the signature covers both — so
    only the same (nonce, timestamp) with another body is refused."""
    account = make_account(mode="plaintext")
    now = int(time.time())
    first = signed(account, as_account(fixture_xml("follow.xml"), account), timestamp=now - 7, nonce="1219211072")
    second = signed(account, as_account(fixture_xml("unfollow.xml"), account), timestamp=now, nonce="1219211072")
    for push in (first, second):
        assert post(client, account, push.query, push.body).status_code == 200
    assert InboundMessage.objects.filter(account=account).count() == 2
    replay = post(client, account, second.query, as_account(fixture_xml("follow.xml"), account))
    assert replay.status_code == 403


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
@pytest.mark.parametrize("offset", [-2 * DAY, 2 * DAY, -400, 400])
def test_a_push_signed_outside_the_window_is_refused(client, make_account, mode, offset):
    """The probe stored 311 pushes dated two days back and 106 two days ahead."""
    account = make_account(mode=mode)
    push = signed(account, as_account(fixture_xml("follow.xml"), account), timestamp=int(time.time()) + offset)
    response = post(client, account, push.query, push.body)
    assert response.status_code == 403
    assert "window 300 s" in response.content.decode()
    assert not InboundMessage.objects.exists()


def test_the_window_is_the_signature_timestamp_not_the_events_own_time(client, make_account):
    """An event's CreateTime may be old (WeChat retried it for a while, or the simulator's clock moved)."""
    account = make_account(mode="safe")
    old_event = as_account(fixture_xml("follow.xml"), account)  # CreateTime 1610969440: January 2021
    push = signed(account, old_event, timestamp=int(time.time()) - 60)
    assert post(client, account, push.query, push.body).status_code == 200
    assert InboundMessage.objects.count() == 1


def test_the_window_is_configurable(client, make_account, settings):
    settings.WXNOTIFY_CALLBACK_WINDOW_SECONDS = 30
    account = make_account(mode="safe")
    push = signed(account, as_account(fixture_xml("follow.xml"), account), timestamp=int(time.time()) - 60)
    assert post(client, account, push.query, push.body).status_code == 403


@pytest.mark.parametrize("timestamp", ["", "abc", "１７００", "²", "-5", "1" * 40])
def test_a_timestamp_that_is_not_seconds_is_refused(client, make_account, timestamp):
    account = make_account(mode="plaintext")
    nonce = "5"
    query = {"signature": callback_signature(account.callback_token, timestamp, nonce), "timestamp": timestamp}
    query["nonce"] = nonce
    response = post(client, account, query, as_account(fixture_xml("follow.xml"), account))
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("create_time", [str(2**63 - 1), str(2**64 - 1), str(2**32), "-1"])
def test_a_correctly_signed_push_with_an_impossible_create_time_is_400_not_500(client, make_account, create_time):
    """`datetime.fromtimestamp` raised on these: the attacker who knows the token got a 5xx."""
    account = make_account(mode="safe")
    xml = as_account(fixture_xml("follow.xml"), account, **{"1610969440": create_time})
    push = signed(account, as_account(fixture_xml("follow.xml"), account))
    # build_push parses what it signs, so encrypt the hostile inner XML by hand with the account's key
    from wechat.crypto import MessageCrypto
    from wechat.xmlcodec import render_encrypted_push

    crypto = MessageCrypto(
        token=account.callback_token, encoding_aes_keys=[account.encoding_aes_key], appid=account.appid
    )
    envelope = crypto.encrypt(xml, timestamp=push.query["timestamp"], nonce=push.query["nonce"])
    query = push.query | {"msg_signature": envelope.msg_signature}
    body = render_encrypted_push(account_original_id=account.original_id, encrypt=envelope.encrypt)
    response = post(client, account, query, body)
    assert response.status_code == 400
    assert "CreateTime" in response.content.decode()
    assert not InboundMessage.objects.exists()


def test_an_over_long_nonce_is_refused(client, make_account):
    account = make_account(mode="plaintext")
    push = signed(account, as_account(fixture_xml("follow.xml"), account), nonce="9" * 65)
    assert post(client, account, push.query, push.body).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_processes_racing_one_nonce_with_two_bodies_store_one(make_account):
    """The unique constraint decides, so concurrent web processes cannot both accept a replay."""
    account = make_account(mode="plaintext")
    real = signed(account, as_account(fixture_xml("follow.xml"), account))
    bodies = [real.body] + [
        as_account(fixture_xml("menu_click.xml"), account, MENU_GUIDE_OPD=f"K{i}") for i in range(5)
    ]
    statuses: list[int] = []
    barrier = threading.Barrier(len(bodies))

    def attempt(body: bytes) -> None:
        try:
            barrier.wait()
            statuses.append(post(Client(), account, real.query, body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [403] * 5
    assert InboundMessage.objects.filter(account=account).count() == 1


def test_the_worker_forgets_nonces_older_than_the_window_and_counts_older_than_a_month(make_account):
    from datetime import timedelta

    from django.utils import timezone

    from wxnotify.callbacks.tasks import prune_callback_tables

    account = make_account(mode="plaintext")
    PushNonce.objects.create(account=account, nonce="old", timestamp=int(time.time()) - 3600, digest="x")
    PushNonce.objects.create(account=account, nonce="new", timestamp=int(time.time()), digest="y")
    minute = timezone.now().replace(second=0, microsecond=0)
    for age in (timedelta(days=31), timedelta(days=29)):
        RefusedPushes.objects.create(account=account, reason="bad_signature", minute=minute - age, count=3)
    prune_callback_tables.call_local()  # the periodic task's own code, without the queue
    assert list(PushNonce.objects.values_list("nonce", flat=True)) == ["new"]
    assert RefusedPushes.objects.count() == 1
    assert prune_nonces() == 0


def test_refusals_are_counted_by_reason_and_logged_once_a_minute(client, make_account, caplog, personas):
    account = personas["ruikang"]
    good = signed(account, as_account(fixture_xml("follow.xml"), account))
    caplog.set_level(logging.WARNING)
    for _ in range(50):
        assert post(client, account, good.query | {"signature": "0" * 40}, good.body).status_code == 403
    stale = signed(account, as_account(fixture_xml("follow.xml"), account), timestamp=int(time.time()) - 2 * DAY)
    for _ in range(7):
        assert post(client, account, stale.query, stale.body).status_code == 403

    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 2, [r.getMessage() for r in lines]  # one per reason, not 57
    assert not [r for r in caplog.records if r.name == "django.request"]  # and no second line per refusal
    assert all(r.exc_info is None for r in caplog.records)
    # Counted per minute: summed, as a run that straddles a minute has two rows of one reason.
    by_reason = RefusedPushes.objects.filter(account=account).values("reason").annotate(n=Sum("count"))
    counts = {row["reason"]: row["n"] for row in by_reason}
    assert counts == {"bad_signature": 50, "stale_timestamp": 7}

    client.force_login(personas["alice"])
    page = client.get(reverse("callbacks_log:log")).content.decode()
    section = page.split('id="refused"')[1].split("</section>")[0]
    assert 'data-reason="bad_signature"' in section and ">50<" in section
    assert 'data-reason="stale_timestamp"' in section and ">7<" in section


def test_the_log_page_of_another_hospital_does_not_show_these_refusals(client, make_account, personas):
    account = personas["ruikang"]
    good = signed(account, as_account(fixture_xml("follow.xml"), account))
    post(client, account, good.query | {"signature": "0" * 40}, good.body)
    client.force_login(personas["charlie"])
    page = client.get(reverse("callbacks_log:log")).content.decode()
    assert "bad_signature" not in page and "最近一小时没有被拒绝的推送" in page
