"""Parsing recorded callback XML into messages, rendering them back, and refusing hostile XML."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wechat.messages import (
    FollowEvent,
    MenuClickEvent,
    MenuViewEvent,
    ScanEvent,
    SentResult,
    SubscribeChangeEvent,
    SubscribeChoice,
    SubscribePopupEvent,
    SubscribeSentEvent,
    TemplateSendJobFinishEvent,
    TextMessage,
    UnfollowEvent,
    UnknownMessage,
)
from wechat.xmlcodec import MalformedMessage, parse_envelope, parse_message, render_message

FIXTURES = Path(__file__).parent.parent / "fixtures" / "callbacks"
OPENID = "otFpruAK8D-E6EfStSYonYSBZ8_4"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_every_fixture_file_is_covered_here():
    covered = {name for name, _ in EXPECTED}
    assert covered == {p.name for p in FIXTURES.glob("*.xml")}


EXPECTED = [
    (
        "follow.xml",
        FollowEvent(account_original_id="gh_123456789abc", openid=OPENID, create_time=1610969440, msg_type="event"),
    ),
    (
        "follow_qrscene.xml",
        FollowEvent(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969441,
            msg_type="event",
            scene="123123",
            ticket="gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==",
        ),
    ),
    (
        "unfollow.xml",
        UnfollowEvent(account_original_id="gh_123456789abc", openid=OPENID, create_time=1610969500, msg_type="event"),
    ),
    (
        "scan.xml",
        ScanEvent(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969442,
            msg_type="event",
            scene="poster_hpv_2026",
            ticket="gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==",
        ),
    ),
    (
        "menu_click.xml",
        MenuClickEvent(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969443,
            msg_type="event",
            key="MENU_GUIDE_OPD",
        ),
    ),
    (
        "menu_view.xml",
        MenuViewEvent(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969444,
            msg_type="event",
            url="https://hospital.example.com/booking",
            menu_id="418236710",
        ),
    ),
    (
        "subscribe_msg_popup_event.xml",
        SubscribePopupEvent(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969440,
            msg_type="event",
            choices=(
                SubscribeChoice("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "accept", 2),
                SubscribeChoice("9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", "reject", 2),
            ),
        ),
    ),
    (
        "subscribe_msg_change_event.xml",
        SubscribeChangeEvent(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969440,
            msg_type="event",
            choices=(SubscribeChoice("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "reject"),),
        ),
    ),
    (
        "subscribe_msg_change_event_popup_wrapper.xml",  # the official doc's wrong wrapper
        SubscribeChangeEvent(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969440,
            msg_type="event",
            choices=(SubscribeChoice("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "reject"),),
        ),
    ),
    (
        "subscribe_msg_sent_event.xml",
        SubscribeSentEvent(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969440,
            msg_type="event",
            results=(SentResult("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", 1700827132819554304, 0, "success"),),
        ),
    ),
    (
        "templatesendjobfinish.xml",
        TemplateSendJobFinishEvent(
            account_original_id="gh_123456789abc",
            openid="oia2TjuEGTNoeX76QEjQNrcURxG8",
            create_time=1395658920,
            msg_type="event",
            job_msg_id=200163836,
            status="failed:user block",
        ),
    ),
    (
        "text.xml",
        TextMessage(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969445,
            msg_type="text",
            content="HPV疫苗什么时候到？",
            id=24387463217845678,
        ),
    ),
    (
        "location_unknown.xml",
        UnknownMessage(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969446,
            msg_type="event",
            event_name="LOCATION",
            fields_=(("Latitude", "32.187849"), ("Longitude", "119.425836"), ("Precision", "65.000000")),
        ),
    ),
    (
        "image_unknown.xml",
        UnknownMessage(
            account_original_id="gh_123456789abc",
            openid=OPENID,
            create_time=1610969447,
            msg_type="image",
            id=24387463217845679,
            fields_=(("PicUrl", "http://mmbiz.qpic.cn/example.jpg"), ("MediaId", "media_id_1")),
        ),
    ),
]


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[n for n, _ in EXPECTED])
def test_fixture_parses_to_the_expected_message(name, expected):
    assert parse_message(fixture(name)) == expected


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[n for n, _ in EXPECTED])
def test_rendering_a_message_parses_back_to_it(name, expected):
    assert parse_message(render_message(expected)) == expected


def test_dedupe_keys_follow_msgid_or_event_content():
    text = parse_message(fixture("text.xml"))
    assert text.dedupe_key() == "msg:24387463217845678"
    follow = parse_message(fixture("follow.xml"))
    assert follow.dedupe_key() == parse_message(fixture("follow.xml")).dedupe_key()
    later = FollowEvent(account_original_id="gh_123456789abc", openid=OPENID, create_time=1610969441, msg_type="event")
    assert later.dedupe_key() != follow.dedupe_key()
    assert len(follow.dedupe_key()) <= 64


def test_event_names_are_matched_without_regard_to_case():
    body = fixture("scan.xml").replace(b"SCAN", b"scan")
    assert isinstance(parse_message(body), ScanEvent)


HOSTILE = {
    "xxe": b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><ToUserName>&x;</ToUserName></xml>',
    "billion_laughs": b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><Content>&c;</Content></xml>',
    "external_dtd": b'<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
    "parameter_entity": b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><xml/>',
    "not_xml": b'{"ToUserName": "gh_x"}',
    "truncated": fixture("follow.xml")[:-10],
    "wrong_root": fixture("follow.xml").replace(b"<xml>", b"<msg>").replace(b"</xml>", b"</msg>"),
    "no_from": b"<xml><ToUserName>gh_1</ToUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>",
    "bad_time": fixture("follow.xml").replace(b"1610969440", b"yesterday"),
    "huge_time": fixture("follow.xml").replace(b"1610969440", b"9" * 40),
    # fits the integer range but no datetime: `datetime.fromtimestamp` raised on it (a 5xx at the endpoint)
    "time_beyond_any_date": fixture("follow.xml").replace(b"1610969440", str(2**63 - 1).encode()),
    "time_past_2106": fixture("follow.xml").replace(b"1610969440", str(2**32).encode()),
    "negative_time": fixture("follow.xml").replace(b"1610969440", b"-1"),
    # longer than any WeChat identifier, and than the columns that keep them (a 5xx on PostgreSQL)
    "long_openid": fixture("follow.xml").replace(b"otFpruAK8D-E6EfStSYonYSBZ8_4", b"o" * 65),
    "long_account_id": fixture("follow.xml").replace(b"gh_123456789abc", b"gh_" + b"9" * 62),
    "long_scene": fixture("follow_qrscene.xml").replace(b"qrscene_", b"qrscene_" + b"s" * 65),
    "long_template_id": fixture("subscribe_msg_popup_event.xml").replace(b"VRR0UEO9", b"V" * 70),
    "text_without_msgid": b"<xml><ToUserName>gh_1</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
    "popup_without_list": b"<xml><ToUserName>gh_1</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType>"
    b"<Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent></SubscribeMsgPopupEvent></xml>",
    "sent_bad_msgid": fixture("subscribe_msg_sent_event.xml").replace(b"1700827132819554304", b"12ab"),
    "empty": b"",
    "oversized": b"<xml>" + b"<A>x</A>" * 10000 + b"</xml>",
    "utf16": fixture("follow.xml").decode().encode("utf-16"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_or_malformed_xml_is_refused_with_a_reason(name):
    with pytest.raises(MalformedMessage) as error:
        parse_message(HOSTILE[name])
    assert str(error.value)


def test_envelope_needs_encrypt():
    assert (
        parse_envelope(b"<xml><ToUserName>gh_1</ToUserName><Encrypt><![CDATA[abc]]></Encrypt></xml>").encrypt == "abc"
    )
    with pytest.raises(MalformedMessage):
        parse_envelope(b"<xml><ToUserName>gh_1</ToUserName></xml>")


text_values = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=50)


@given(
    content=text_values, openid=st.from_regex(r"o[A-Za-z0-9_-]{27}", fullmatch=True), create_time=st.integers(0, 2**31)
)
def test_any_text_message_round_trips(content, openid, create_time):
    message = TextMessage(
        account_original_id="gh_1",
        openid=openid,
        create_time=create_time,
        msg_type="text",
        content=content.strip(),
        id=7,
    )
    assert parse_message(render_message(message)) == message
