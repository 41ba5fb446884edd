"""Login with Argon2 hashes; repeated failures lock the login (django-axes)."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from tests.conftest import PASSWORD


def test_login_then_dashboard(client, personas):
    response = client.post("/login/", {"username": "alice", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "瑞康医院" in body and "当前粉丝" in body


def test_five_wrong_passwords_lock_even_the_right_one_out(client, personas):
    for _ in range(5):
        response = client.post("/login/", {"username": "bob", "password": "wrong-password"})
        assert response.status_code in (200, 429)
    response = client.post("/login/", {"username": "bob", "password": PASSWORD})
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_other_users_are_not_locked_by_bobs_failures(client, personas):
    for _ in range(5):
        client.post("/login/", {"username": "bob", "password": "wrong-password"})
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2_in_production_settings():
    from config import settings as production

    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        user = get_user_model().objects.create_user("argon", password="a-long-password-1")
        assert user.password.startswith("argon2$")


def fail(client, username, ip, **extra):
    return client.post("/login/", {"username": username, "password": "Winter2026!"}, REMOTE_ADDR=ip, **extra)


def test_password_spraying_from_one_address_is_locked_across_usernames(client, personas, settings):
    """One guess per username never reaches the per-pair limit: the per-address limit catches it."""
    for i in range(settings.WXNOTIFY_LOGIN_IP_LIMIT):
        assert fail(client, f"staff{i:02d}", "203.0.113.7").status_code == 200
    before = timezone.localtime()
    locked = client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    page = locked.content.decode()
    assert "这台电脑所在的网络最近登录失败太多" in page
    until = re.search(r"请在 (\d{4}-\d\d-\d\d \d\d:\d\d)（北京时间）之后再试", page).group(1)
    expected = before + timedelta(hours=settings.AXES_COOLOFF_TIME)
    assert abs(datetime.strptime(until, "%Y-%m-%d %H:%M") - expected.replace(tzinfo=None)) <= timedelta(minutes=1)
    # alice from her own office is not locked out by someone else's spraying
    assert (
        client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="198.51.100.2").status_code
        == 302
    )


def test_one_username_tried_from_many_addresses_is_locked(client, personas, settings):
    for i in range(settings.WXNOTIFY_LOGIN_USERNAME_LIMIT):
        fail(client, "bob", f"192.0.2.{i + 1}")
    locked = client.post("/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="198.51.100.9")
    assert locked.status_code == 429
    assert "这个用户名最近在多处登录失败" in locked.content.decode() and "北京时间" in locked.content.decode()
    other = client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="192.0.2.1")
    assert other.status_code == 302  # the addresses themselves are not locked: 1 failure each


def test_failures_while_locked_do_not_extend_the_lockout_and_it_ends(client, personas, settings):
    from axes.models import AccessAttempt

    for _ in range(settings.AXES_FAILURE_LIMIT):
        fail(client, "bob", "203.0.113.9")
    first = AccessAttempt.objects.get(username="bob").attempt_time
    for _ in range(5):
        assert fail(client, "bob", "203.0.113.9").status_code == 429
    assert AccessAttempt.objects.get(username="bob").attempt_time == first
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(hours=settings.AXES_COOLOFF_TIME, seconds=1))
    ok = client.post("/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9")
    assert ok.status_code == 302


def test_behind_a_proxy_the_address_the_proxy_saw_counts_not_the_clients_claim(client, personas, settings):
    settings.WXNOTIFY_PROXY_COUNT = 1
    for i in range(settings.WXNOTIFY_LOGIN_IP_LIMIT):
        # the attacker prepends a fresh fake address each time; the proxy appends the real one
        fail(client, f"staff{i:02d}", "10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 203.0.113.50")
    locked = fail(client, "alice", "10.0.0.1", HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.50")
    assert locked.status_code == 429
    # everyone else behind the same proxy is a different client
    ok = client.post(
        "/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.3",
    )
    assert ok.status_code == 302
