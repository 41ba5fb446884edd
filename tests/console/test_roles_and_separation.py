"""Roles per account, and strict separation: Charlie never sees Ruikang's data."""

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import PASSWORD, as_account, fixture_xml
from wxnotify.callbacks.models import InboundMessage


def login(client, name):
    client.force_login(get_user_model().objects.get(username=name))


def test_only_an_administrator_edits_an_account(client, personas):
    ruikang = personas["ruikang"]
    for name, expected in [("alice", 200), ("bob", 403), ("vera", 403)]:
        client.logout()
        login(client, name)
        assert client.get(f"/accounts/{ruikang.pk}/edit/").status_code == expected, name


def test_charlie_cannot_reach_ruikang_by_any_door(client, personas, push):
    ruikang = personas["ruikang"]
    push(ruikang, as_account(fixture_xml("text.xml"), ruikang))
    inbound = InboundMessage.objects.get(account=ruikang)
    login(client, "charlie")
    assert client.get(f"/accounts/{ruikang.pk}/edit/").status_code == 404
    assert client.get(f"/inbound/{inbound.pk}/").status_code == 404
    client.post("/switch-account", {"account": ruikang.pk})
    home = client.get("/").content.decode()
    assert "别家医院" in home and "瑞康医院" not in home
    assert "HPV" not in client.get("/inbound/").content.decode()
    assert "otFpruAK8D" not in client.get("/followers/?state=all").content.decode()


def test_alice_sees_ruikangs_log_and_followers(client, personas, push):
    ruikang = personas["ruikang"]
    push(ruikang, as_account(fixture_xml("follow_qrscene.xml"), ruikang))
    login(client, "alice")
    assert "otFpruAK8D-E6EfStSYonYSBZ8_4" in client.get("/followers/").content.decode()
    log = client.get("/inbound/").content.decode()
    assert "subscribe" in log
    detail = client.get(f"/inbound/{InboundMessage.objects.get().pk}/").content.decode()
    assert "qrscene_123123" in detail


def test_only_superusers_connect_new_accounts(client, personas, django_user_model):
    login(client, "alice")
    assert client.get("/accounts/new/").status_code == 403
    django_user_model.objects.create_superuser("root", password=PASSWORD)
    client.logout()
    login(client, "root")
    assert client.get("/accounts/new/").status_code == 200


def test_dashboard_counters_update_through_the_htmx_partial(client, personas, push):
    ruikang = personas["ruikang"]
    login(client, "vera")
    before = client.get("/?partial=live", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-stat="following">0<' in before
    push(ruikang, as_account(fixture_xml("follow.xml"), ruikang))
    after = client.get("/?partial=live", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-stat="following">1<' in after and "<html" not in after
    assert "otFpruAK8D-E6EfStSYonYSBZ8_4" in after  # the latest-events table refreshes with the counters


def test_an_expired_session_makes_htmx_reload_onto_the_login_page(client, personas):
    response = client.get("/?partial=live", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/login/")


@pytest.mark.django_db(transaction=True)  # the task writes from another thread, as a worker would
def test_only_an_administrator_starts_a_follower_sync(client, personas, caplog):
    login(client, "bob")
    assert client.post("/followers/sync").status_code == 403
    login(client, "alice")
    # Huey runs tasks immediately in tests; WeChat is unreachable here (port 9), so the task fails and says so.
    response = client.post("/followers/sync", follow=True)
    assert "已开始从微信同步粉丝列表" in response.content.decode()
    assert f"follower sync for {personas['ruikang'].appid} failed" in caplog.text
