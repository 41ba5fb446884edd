"""Thousands of mutated and hostile bodies at the endpoint: never a 5xx, and nothing stored unless accepted.

The property: every response is 200, 400 or 403; a non-200 leaves no row behind; a 200 stores at
most one row. Mutations start from correctly signed pushes in each mode, so they exercise the
deep paths (AES, padding, appid, XML) and not only the signature check.
"""

import base64
import secrets
import time
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import as_account, fixture_xml
from wechat.crypto import decode_aes_key, encrypt
from wechat.push import build_push
from wechat.signature import callback_signature
from wechat.xmlcodec import render_encrypted_push
from wxnotify.callbacks.models import InboundMessage

FIXTURE_NAMES = [
    "follow.xml",
    "unfollow.xml",
    "scan.xml",
    "menu_click.xml",
    "menu_view.xml",
    "subscribe_msg_popup_event.xml",
    "subscribe_msg_change_event.xml",
    "subscribe_msg_sent_event.xml",
    "templatesendjobfinish.xml",
    "text.xml",
]

HOSTILE_INNER = [
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><ToUserName>&x;</ToUserName></xml>',
    b'<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><xml>&c;</xml>',
    b'<?xml version="1.0" encoding="GBK"?><xml><Content>\xc4\xe3\xba\xc3</Content></xml>',
    b"\xff\xfe<\x00x\x00m\x00l\x00>\x00",
    b"<xml><ToUserName>" + b"A" * 70000 + b"</ToUserName></xml>",
    b"<xml>",
    b"",
]


def _signed_post(client, account, body: bytes, query: dict[str, str]):
    return client.post(f"/wechat/{account.appid}/callback?{urlencode(query)}", data=body, content_type="text/xml")


def _assert_safe(response, before: int, account) -> None:
    assert response.status_code in (200, 400, 403), response.content[:200]
    after = InboundMessage.objects.filter(account=account).count()
    if response.status_code != 200:
        assert after == before, "a refused body left a row behind"
    else:
        assert after - before in (0, 1)


@pytest.mark.django_db
@settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    name=st.sampled_from(FIXTURE_NAMES),
    mode=st.sampled_from(["plaintext", "compatible", "safe"]),
    mutation=st.sampled_from(["flip", "truncate", "insert", "delete", "splice_hostile", "garbage", "none"]),
    position=st.floats(0, 1),
    data=st.binary(min_size=1, max_size=64),
    tamper_query=st.sampled_from(["none", "drop_signature", "drop_msg_signature", "raw", "timestamp"]),
)
def test_mutated_pushes_never_cause_a_5xx_or_a_stray_row(
    make_account_once, name, mode, mutation, position, data, tamper_query
):
    account = make_account_once(mode)
    built = build_push(
        as_account(fixture_xml(name), account),
        token=account.callback_token,
        appid=account.appid,
        mode=mode,
        encoding_aes_key=account.encoding_aes_key,
    )
    body, query = bytearray(built.body), dict(built.query)
    at = int(position * len(body))
    if mutation == "flip" and body:
        body[min(at, len(body) - 1)] ^= data[0] or 1
    elif mutation == "truncate":
        del body[at:]
    elif mutation == "insert":
        body[at:at] = data
    elif mutation == "delete":
        del body[at : at + len(data)]
    elif mutation == "splice_hostile":
        body = bytearray(HOSTILE_INNER[data[0] % len(HOSTILE_INNER)])
    elif mutation == "garbage":
        body = bytearray(data)
    if tamper_query == "drop_signature":
        query.pop("signature")
    elif tamper_query == "drop_msg_signature":
        query.pop("msg_signature", None)
    elif tamper_query == "raw":
        query["encrypt_type"] = "raw"
    elif tamper_query == "timestamp":
        query["timestamp"] = str(int(query["timestamp"]) + 1)
    before = InboundMessage.objects.filter(account=account).count()
    _assert_safe(_signed_post(Client(), account, bytes(body), query), before, account)


@pytest.mark.django_db
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inner=st.one_of(st.sampled_from(HOSTILE_INNER), st.binary(max_size=300)), pad_tamper=st.integers(0, 40))
def test_hostile_plaintext_inside_valid_encryption_and_signatures_is_400(make_account_once, inner, pad_tamper):
    """The attacker knows the token and the key (worst case): the inner body still cannot hurt."""
    account = make_account_once("safe")
    key = decode_aes_key(account.encoding_aes_key)
    ciphertext = encrypt(key, inner, account.appid)
    if pad_tamper:
        raw = bytearray(base64.b64decode(ciphertext))
        raw[-1] ^= pad_tamper  # corrupts the last block, so the padding (and maybe the appid) no longer check out
        ciphertext = base64.b64encode(bytes(raw)).decode()
    ts, nonce = str(int(time.time())), secrets.token_hex(5)
    query = {
        "signature": callback_signature(account.callback_token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": callback_signature(account.callback_token, ts, nonce, ciphertext),
    }
    body = render_encrypted_push(account_original_id=account.original_id, encrypt=ciphertext)
    before = InboundMessage.objects.filter(account=account).count()
    response = _signed_post(Client(), account, body, query)
    assert response.status_code == 400, response.content
    assert InboundMessage.objects.filter(account=account).count() == before


@pytest.mark.django_db
def test_oversized_body_is_400_before_it_is_read(make_account_once):
    account = make_account_once("plaintext")
    ts, nonce = str(int(time.time())), "2"
    query = {"signature": callback_signature(account.callback_token, ts, nonce), "timestamp": ts, "nonce": nonce}
    response = _signed_post(Client(), account, b"<xml>" + b" " * 200_000 + b"</xml>", query)
    assert response.status_code == 400 and b"over 65536 bytes" in response.content
    assert not InboundMessage.objects.exists()


@pytest.fixture
def make_account_once(make_account):
    """One account per mode for the whole hypothesis run (the db fixture is per test, not per example)."""
    made = {}

    def get(mode: str):
        if mode not in made:
            made[mode] = make_account(mode=mode)
        return made[mode]

    return get
