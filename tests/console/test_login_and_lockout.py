"""Login with Argon2 hashes; repeated failures lock the login (django-axes)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

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
