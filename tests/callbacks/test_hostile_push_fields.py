"""Correctly signed and encrypted pushes (the attacker knows the token and the key: the worst case) whose
fields hold anything at all: the endpoint answers 200 or 400, stores at most one row, never a 5xx.

The byte-level mutations in test_hostile_bodies mostly die at the signature or the AES padding; these reach
the parser's field rules and every handler behind it (followers, the subscription ledger, delivery reports).
"""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import as_account, fixture_xml
from tests.subscriptions.conftest import make_template
from wechat.crypto import MessageCrypto
from wechat.signature import callback_signature
from wechat.xmlcodec import cdata, render_encrypted_push
from wxnotify.callbacks.models import InboundMessage

FIXTURES = [
    "follow.xml",
    "follow_qrscene.xml",
    "unfollow.xml",
    "scan.xml",
    "menu_click.xml",
    "menu_view.xml",
    "text.xml",
    "subscribe_msg_popup_event.xml",
    "subscribe_msg_change_event.xml",
    "subscribe_msg_change_event_popup_wrapper.xml",
    "subscribe_msg_sent_event.xml",
    "templatesendjobfinish.xml",
    "image_unknown.xml",
]

field_values = st.one_of(
    st.text(max_size=300),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=6),
    st.sampled_from(["", " ", "0", "-1", str(2**32), str(2**63), str(2**64), "accept", "reject", "ban", "event"]),
    # longer than any column it could land in, in characters XML allows (so the parser lets them through)
    st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), min_size=65, max_size=2000),
    st.from_regex(r"o[A-Za-z0-9_-]{27,200}", fullmatch=True),
)


def with_field(xml: str, tag: str, value: str, *, raw: bool) -> str:
    inner = value if raw else cdata(value)
    return re.sub(rf"<{tag}>.*?</{tag}>", lambda _: f"<{tag}>{inner}</{tag}>", xml, count=1, flags=re.S)


@pytest.fixture
def target(make_account):
    """A safe-mode account that knows the fixtures' templates, so the ledger handlers really run."""
    account = make_account(mode="safe")
    for template_id in ("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI"):
        make_template(account, template_id=template_id)
    return account


def signed_encrypted(account, inner: bytes) -> tuple[dict[str, str], bytes]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(6)
    crypto = MessageCrypto(
        token=account.callback_token, encoding_aes_keys=[account.encoding_aes_key], appid=account.appid
    )
    envelope = crypto.encrypt(inner, timestamp=timestamp, nonce=nonce)
    query = {
        "signature": callback_signature(account.callback_token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": envelope.msg_signature,
    }
    return query, render_encrypted_push(account_original_id=account.original_id, encrypt=envelope.encrypt)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "old", "new", "status"),
    [
        ("follow.xml", "otFpruAK8D-E6EfStSYonYSBZ8_4", "o" * 65, 400),  # DataError on PostgreSQL before
        ("follow_qrscene.xml", "qrscene_", "qrscene_" + "s" * 65, 400),
        ("scan.xml", "<EventKey><![CDATA[", "<EventKey><![CDATA[" + "s" * 65, 400),
        ("subscribe_msg_sent_event.xml", "1700827132819554304", str(2**64 - 1), 200),  # beyond a signed bigint
        ("text.xml", "<MsgId>", f"<MsgId>{2**64 - 1}", 400),  # the digits run on past 2^64
    ],
)
def test_the_fuzzers_findings(target, name, old, new, status):
    xml = as_account(fixture_xml(name), target).decode()
    assert old in xml
    query, body = signed_encrypted(target, xml.replace(old, new, 1).encode())
    response = Client().post(f"/wechat/{target.appid}/callback?{urlencode(query)}", data=body, content_type="text/xml")
    assert response.status_code == status, response.content
    assert InboundMessage.objects.count() == (1 if status == 200 else 0)


@pytest.mark.django_db
@settings(
    max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_any_field_value_in_a_valid_push_is_200_or_400(target, data):
    account = target
    xml = as_account(fixture_xml(data.draw(st.sampled_from(FIXTURES), label="fixture")), account).decode()
    tags = sorted(set(re.findall(r"<([A-Za-z]+)>", xml)) - {"xml", "List", "SubscribeMsgPopupEvent"})
    for tag in data.draw(st.lists(st.sampled_from(tags), min_size=1, max_size=3, unique=True), label="tags"):
        value = data.draw(field_values, label=tag)
        xml = with_field(xml, tag, value, raw=data.draw(st.booleans(), label=f"{tag} bare"))
    inner = xml.encode("utf-8", "surrogatepass")
    query, body = signed_encrypted(account, inner)
    before = InboundMessage.objects.filter(account=account).count()
    response = Client().post(f"/wechat/{account.appid}/callback?{urlencode(query)}", data=body, content_type="text/xml")
    assert response.status_code in (200, 400), (response.status_code, inner[:300])
    stored = InboundMessage.objects.filter(account=account).count() - before
    assert stored in ((0, 1) if response.status_code == 200 else (0,))
