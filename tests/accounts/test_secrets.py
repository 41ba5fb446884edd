"""Secrets are encrypted at rest, never rendered back, never logged."""

import logging

from django.db import connection

from tests.conftest import PASSWORD, as_account, fixture_xml

SECRET = "s3cr3t-AppSecret-0123456789abcd"
TOKEN = "CallbackToken12345"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_database_holds_ciphertext_only(make_account):
    account = make_account(app_secret=SECRET, callback_token=TOKEN, encoding_aes_key=AES)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT app_secret, callback_token, encoding_aes_key FROM accounts_officialaccount WHERE id = %s",
            [account.pk],
        )
        row = cursor.fetchone()
    for stored, plain in zip(row, (SECRET, TOKEN, AES), strict=True):
        assert plain not in stored and stored.startswith("gAAAA")  # a Fernet token
    account.refresh_from_db()
    assert (account.app_secret, account.callback_token, account.encoding_aes_key) == (SECRET, TOKEN, AES)


def test_edit_page_never_shows_saved_secrets_and_blank_keeps_them(client, personas):
    ruikang = personas["ruikang"]
    ruikang.app_secret, ruikang.callback_token, ruikang.encoding_aes_key = SECRET, TOKEN, AES
    ruikang.save()
    client.force_login(personas["alice"])
    page = client.get(f"/accounts/{ruikang.pk}/edit/").content.decode()
    for secret in (SECRET, TOKEN, AES):
        assert secret not in page
    assert "已设置，不再显示" in page
    response = client.post(
        f"/accounts/{ruikang.pk}/edit/",
        {
            "name": "瑞康医院（新）",
            "original_id": ruikang.original_id,
            "message_mode": "safe",
            "is_active": "on",
            "app_secret": "",
            "callback_token": "",
            "encoding_aes_key": "",
        },
    )
    assert response.status_code == 302
    ruikang.refresh_from_db()
    assert ruikang.name == "瑞康医院（新）"
    assert (ruikang.app_secret, ruikang.callback_token, ruikang.encoding_aes_key) == (SECRET, TOKEN, AES)


def test_changing_the_aes_key_keeps_the_previous_one(client, personas):
    ruikang = personas["ruikang"]
    old = ruikang.encoding_aes_key
    client.force_login(personas["alice"])
    client.post(
        f"/accounts/{ruikang.pk}/edit/",
        {
            "name": ruikang.name,
            "original_id": ruikang.original_id,
            "message_mode": "safe",
            "is_active": "on",
            "app_secret": "",
            "callback_token": "",
            "encoding_aes_key": AES,
        },
    )
    ruikang.refresh_from_db()
    assert (ruikang.encoding_aes_key, ruikang.previous_encoding_aes_key) == (AES, old)


def test_connecting_an_account_validates_and_hides_secrets_afterwards(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password=PASSWORD))
    bad = client.post(
        "/accounts/new/",
        {
            "name": "X",
            "appid": "not-an-appid",
            "original_id": "gh_abc123",
            "message_mode": "safe",
            "app_secret": SECRET,
            "callback_token": TOKEN,
            "encoding_aes_key": "short",
        },
    )
    assert bad.status_code == 200
    body = bad.content.decode()
    assert "AppID 以 wx 开头" in body and "EncodingAESKey 为 43 位" in body
    ok = client.post(
        "/accounts/new/",
        {
            "name": "瑞康",
            "appid": "wx1234567890abcdef",
            "original_id": "gh_abc123def456",
            "message_mode": "safe",
            "is_active": "on",
            "app_secret": SECRET,
            "callback_token": TOKEN,
            "encoding_aes_key": AES,
        },
        follow=True,
    )
    listing = ok.content.decode()
    assert "wx1234567890abcdef" in listing and "/wechat/wx1234567890abcdef/callback" in listing
    for secret in (SECRET, TOKEN, AES):
        assert secret not in listing


def test_callbacks_and_refusals_log_no_secret(push, make_account, caplog):
    account = make_account(mode="safe", callback_token=TOKEN, encoding_aes_key=AES, app_secret=SECRET)
    caplog.set_level(logging.DEBUG)
    push(account, as_account(fixture_xml("follow.xml"), account))
    push(account, as_account(fixture_xml("follow.xml"), account), query={"msg_signature": "0" * 40})
    text = caplog.text
    assert "refused (403 bad_msg_signature)" in text
    for secret in (SECRET, TOKEN, AES):
        assert secret not in text


def test_rotating_the_field_key_keeps_every_secret_readable(make_account, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    account = make_account(app_secret=SECRET)
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]
    call_command("rotate_field_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone now
    account.refresh_from_db()
    assert account.app_secret == SECRET
