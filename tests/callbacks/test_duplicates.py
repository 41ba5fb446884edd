"""WeChat retries a push it got no timely answer for: the same event three times is stored and applied once."""

import threading

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import as_account, fixture_xml
from wechat.push import build_push
from wxnotify.callbacks.models import InboundMessage
from wxnotify.followers.models import FollowerChange


@pytest.mark.parametrize("name", ["follow_qrscene.xml", "text.xml", "subscribe_msg_popup_event.xml"])
def test_three_deliveries_store_one_row_counting_three(push, make_account, name):
    account = make_account(mode="safe")
    body = as_account(fixture_xml(name), account)
    for _ in range(3):  # each retry has a fresh nonce and signature, like WeChat's
        assert push(account, body).status_code == 200
    row = InboundMessage.objects.get(account=account)
    assert row.times_received == 3


def test_a_retried_follow_changes_the_follower_once(push, make_account):
    account = make_account(mode="compatible")
    body = as_account(fixture_xml("follow_qrscene.xml"), account)
    for _ in range(3):
        push(account, body)
    assert FollowerChange.objects.filter(account=account, kind="follow").count() == 1


def test_two_events_of_one_patient_in_the_same_second_are_both_kept(push, make_account):
    account = make_account(mode="plaintext")
    push(account, as_account(fixture_xml("menu_click.xml"), account))
    push(account, as_account(fixture_xml("menu_click.xml"), account, MENU_GUIDE_OPD="MENU_VACCINE"))
    assert InboundMessage.objects.filter(account=account, event="CLICK").count() == 2


def test_same_event_for_two_accounts_is_two_rows(push, make_account):
    a, b = make_account(mode="plaintext"), make_account(mode="plaintext")
    push(a, as_account(fixture_xml("follow.xml"), a))
    push(b, as_account(fixture_xml("follow.xml"), b))
    assert InboundMessage.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_race_to_one_row(make_account):
    account = make_account(mode="safe")
    body = as_account(fixture_xml("follow.xml"), account)
    pushes = [
        build_push(
            body,
            token=account.callback_token,
            appid=account.appid,
            mode="safe",
            encoding_aes_key=account.encoding_aes_key,
        )
        for _ in range(6)
    ]
    statuses: list[int] = []
    barrier = threading.Barrier(len(pushes))

    def deliver(p):
        from urllib.parse import urlencode

        barrier.wait()
        r = Client().post(
            f"/wechat/{account.appid}/callback?{urlencode(p.query)}", data=p.body, content_type="text/xml"
        )
        statuses.append(r.status_code)
        connection.close()

    threads = [threading.Thread(target=deliver, args=(p,)) for p in pushes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(pushes)
    row = InboundMessage.objects.get(account=account)
    assert row.times_received == len(pushes)
    assert FollowerChange.objects.filter(account=account).count() == 1
