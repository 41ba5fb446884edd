"""XML in and out: callback bodies to `wechat.messages`, and messages back to WeChat's XML.

Parsing goes through defusedxml with DTDs forbidden: WeChat never sends one, so any DTD, entity
or external reference is hostile (XXE, entity expansion) and is refused before it is expanded.
Rendering exists for the simulator and the tests, which must produce exactly what WeChat sends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # only for building and the Element type, never for parsing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from wechat.messages import (
    AnyMessage,
    FollowEvent,
    MenuClickEvent,
    MenuViewEvent,
    Message,
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

MAX_BODY_BYTES = 64 * 1024  # real callbacks are a few hundred bytes; compatible mode triples that
# CreateTime is Unix seconds: WeChat's are 10 digits. Anything outside 0 .. 2^32 (the year 2106) cannot
# be a date WeChat sent, and would not fit a datetime on every platform.
MAX_CREATE_TIME = 2**32
# WeChat's identifiers are short (an openid is 28 characters, a gh_ id 15, a template id 43, a QR scene at
# most 64); anything longer did not come from WeChat and would not fit the columns that keep them.
MAX_ID_LENGTH = 64


E = TypeVar("E", bound=Message)


class MalformedMessage(ValueError):
    """The body is not a WeChat message; the text says what is wrong, fit for a 400 and a log line."""


def _parse_root(body: bytes) -> ET.Element:
    if len(body) > MAX_BODY_BYTES:
        raise MalformedMessage(f"body larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise MalformedMessage("empty body")
    try:
        body.decode("utf-8")  # WeChat sends UTF-8 only; anything else is not from WeChat
    except UnicodeDecodeError:
        raise MalformedMessage("body is not UTF-8") from None
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise MalformedMessage(f"forbidden XML construct: {type(error).__name__}") from None
    except (ET.ParseError, ValueError, UnicodeError) as error:
        raise MalformedMessage(f"not well-formed XML: {error}") from None
    if root.tag != "xml":
        raise MalformedMessage(f"root element is <{root.tag}>, expected <xml>")
    return root


def _text(root: ET.Element, name: str) -> str | None:
    node = root.find(name)
    if node is None:
        return None
    return (node.text or "").strip()


def _required(root: ET.Element, name: str) -> str:
    value = _text(root, name)
    if not value:
        raise MalformedMessage(f"missing <{name}>")
    return value


def _identifier(root: ET.Element, name: str) -> str:
    value = _required(root, name)
    if len(value) > MAX_ID_LENGTH:
        raise MalformedMessage(f"<{name}> longer than {MAX_ID_LENGTH} characters")
    return value


def _scene(value: str) -> str:
    if len(value) > MAX_ID_LENGTH:
        raise MalformedMessage(f"<EventKey> longer than a QR scene ({MAX_ID_LENGTH} characters)")
    return value


def _integer(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise MalformedMessage(f"<{name}> is not an integer") from None
    if not -(2**63) <= number < 2**64:
        raise MalformedMessage(f"<{name}> out of range")
    return number


def _create_time(value: str) -> int:
    seconds = _integer(value, "CreateTime")
    if not 0 <= seconds < MAX_CREATE_TIME:
        raise MalformedMessage("<CreateTime> is not a plausible time")
    return seconds


@dataclass(frozen=True)
class EncryptedEnvelope:
    """The outer XML of an encrypted push: the account's original id and the ciphertext."""

    to_user: str | None
    encrypt: str


def parse_envelope(body: bytes) -> EncryptedEnvelope:
    root = _parse_root(body)
    return EncryptedEnvelope(to_user=_text(root, "ToUserName"), encrypt=_required(root, "Encrypt"))


def _choices(root: ET.Element, wrappers: Iterable[str]) -> tuple[SubscribeChoice, ...]:
    # The official example of the change event wraps it in <SubscribeMsgPopupEvent>; accept both.
    for wrapper in wrappers:
        node = root.find(wrapper)
        if node is not None:
            break
    else:
        raise MalformedMessage(f"missing <{next(iter(wrappers))}>")
    choices = []
    for item in node.findall("List"):
        scene_text = _text(item, "PopupScene")
        choices.append(
            SubscribeChoice(
                template_id=_identifier(item, "TemplateId"),
                status=_required(item, "SubscribeStatusString"),
                popup_scene=_integer(scene_text, "PopupScene") if scene_text else None,
            )
        )
    if not choices:
        raise MalformedMessage(f"<{wrapper}> has no <List>")
    return tuple(choices)


def _sent_results(root: ET.Element) -> tuple[SentResult, ...]:
    node = root.find("SubscribeMsgSentEvent")
    if node is None:
        raise MalformedMessage("missing <SubscribeMsgSentEvent>")
    results = tuple(
        SentResult(
            template_id=_identifier(item, "TemplateId"),
            msg_id=_integer(_required(item, "MsgID"), "MsgID"),
            error_code=_integer(_text(item, "ErrorCode") or "0", "ErrorCode"),
            error_status=_text(item, "ErrorStatus") or "",
        )
        for item in node.findall("List")
    )
    if not results:
        raise MalformedMessage("<SubscribeMsgSentEvent> has no <List>")
    return results


class _Base(TypedDict):
    """The fields every message has."""

    account_original_id: str
    openid: str
    create_time: int
    msg_type: str


Head = dict[str, str | int | None]


@dataclass(frozen=True)
class _Event(Generic[E]):
    """One event type, read and written in one place: a new event is one entry of EVENTS.

    `parse(root, base, event_key)` builds the message; `render(message)` gives its fields after `Event`
    and any nested XML (the subscription events' lists)."""

    name: str  # <Event>, lower-cased: WeChat writes some in capitals (SCAN, CLICK, VIEW)
    type: type[E]
    parse: Callable[[ET.Element, _Base, str], E]
    render: Callable[[E], tuple[Head, str]]


def _follow(root: ET.Element, base: _Base, key: str) -> FollowEvent:
    scene = _scene(key[len("qrscene_") :]) if key.startswith("qrscene_") else None
    return FollowEvent(**base, scene=scene or None, ticket=_text(root, "Ticket") or None)


def _sent_xml(message: SubscribeSentEvent) -> str:
    return (
        "<SubscribeMsgSentEvent>"
        + "".join(
            f"<List><TemplateId>{cdata(r.template_id)}</TemplateId><MsgID>{r.msg_id}</MsgID>"
            f"<ErrorCode>{r.error_code}</ErrorCode><ErrorStatus>{cdata(r.error_status)}</ErrorStatus></List>"
            for r in message.results
        )
        + "</SubscribeMsgSentEvent>"
    )


EVENTS: tuple[_Event[Any], ...] = (
    _Event(
        "subscribe",
        FollowEvent,
        _follow,
        lambda m: ({"EventKey": f"qrscene_{m.scene}" if m.scene else None, "Ticket": m.ticket}, ""),
    ),
    _Event("unsubscribe", UnfollowEvent, lambda root, base, key: UnfollowEvent(**base), lambda m: ({}, "")),
    _Event(
        "scan",
        ScanEvent,
        lambda root, base, key: ScanEvent(**base, scene=_scene(key), ticket=_text(root, "Ticket") or None),
        lambda m: ({"EventKey": m.scene, "Ticket": m.ticket}, ""),
    ),
    _Event(
        "click",
        MenuClickEvent,
        lambda root, base, key: MenuClickEvent(**base, key=key),
        lambda m: ({"EventKey": m.key}, ""),
    ),
    _Event(
        "view",
        MenuViewEvent,
        lambda root, base, key: MenuViewEvent(**base, url=key, menu_id=_text(root, "MenuId") or None),
        lambda m: ({"EventKey": m.url, "MenuId": m.menu_id}, ""),
    ),
    _Event(
        "subscribe_msg_popup_event",
        SubscribePopupEvent,
        lambda root, base, key: SubscribePopupEvent(**base, choices=_choices(root, ["SubscribeMsgPopupEvent"])),
        lambda m: ({}, _choices_xml("SubscribeMsgPopupEvent", m.choices)),
    ),
    _Event(
        "subscribe_msg_change_event",
        SubscribeChangeEvent,
        lambda root, base, key: SubscribeChangeEvent(
            **base, choices=_choices(root, ["SubscribeMsgChangeEvent", "SubscribeMsgPopupEvent"])
        ),
        lambda m: ({}, _choices_xml("SubscribeMsgChangeEvent", m.choices)),
    ),
    _Event(
        "subscribe_msg_sent_event",
        SubscribeSentEvent,
        lambda root, base, key: SubscribeSentEvent(**base, results=_sent_results(root)),
        lambda m: ({}, _sent_xml(m)),
    ),
    _Event(
        "templatesendjobfinish",
        TemplateSendJobFinishEvent,
        lambda root, base, key: TemplateSendJobFinishEvent(
            **base, job_msg_id=_integer(_required(root, "MsgID"), "MsgID"), status=_text(root, "Status") or ""
        ),
        lambda m: ({"MsgID": m.job_msg_id, "Status": m.status}, ""),
    ),
)
_BY_NAME: dict[str, _Event[Any]] = {e.name: e for e in EVENTS}
_BY_TYPE: dict[type[Message], _Event[Any]] = {e.type: e for e in EVENTS}


def parse_message(body: bytes) -> AnyMessage:
    """A plaintext message body (or the decrypted inner XML) as a message; MalformedMessage otherwise."""
    root = _parse_root(body)
    base = _Base(
        account_original_id=_identifier(root, "ToUserName"),
        openid=_identifier(root, "FromUserName"),
        create_time=_create_time(_required(root, "CreateTime")),
        msg_type=_required(root, "MsgType"),
    )
    if base["msg_type"] == "text":
        return TextMessage(**base, content=_text(root, "Content") or "", id=_integer(_required(root, "MsgId"), "MsgId"))
    if base["msg_type"] != "event":
        msg_id = _text(root, "MsgId")
        return UnknownMessage(**base, id=_integer(msg_id, "MsgId") if msg_id else None, fields_=_leaf_fields(root))
    event = _required(root, "Event")
    known = _BY_NAME.get(event.lower())
    if known is None:
        return UnknownMessage(**base, event_name=event, fields_=_leaf_fields(root))
    message: AnyMessage = known.parse(root, base, _text(root, "EventKey") or "")
    return message


def _leaf_fields(root: ET.Element) -> tuple[tuple[str, str], ...]:
    skip = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "MsgId"}
    return tuple((child.tag, (child.text or "").strip()) for child in root if len(child) == 0 and child.tag not in skip)


# --- rendering (simulator, tests, replies) -------------------------------------------------


def cdata(value: str) -> str:
    """A CDATA section holding `value`, splitting any "]]>" so it cannot close the section early."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_fields(values: Mapping[str, str | int | None]) -> str:
    """Flat <xml>: integers bare, strings in CDATA, None left out (WeChat's own layout)."""
    parts = ["<xml>"]
    for name, value in values.items():
        if value is None:
            continue
        inner = str(value) if isinstance(value, int) else cdata(value)
        parts.append(f"<{name}>{inner}</{name}>")
    parts.append("</xml>")
    return "".join(parts)


def _choices_xml(wrapper: str, choices: Iterable[SubscribeChoice]) -> str:
    items = []
    for c in choices:
        scene = f"<PopupScene>{c.popup_scene}</PopupScene>" if c.popup_scene is not None else ""
        items.append(
            f"<List><TemplateId>{cdata(c.template_id)}</TemplateId>"
            f"<SubscribeStatusString>{cdata(c.status)}</SubscribeStatusString>{scene}</List>"
        )
    return f"<{wrapper}>{''.join(items)}</{wrapper}>"


def render_message(message: Message) -> bytes:
    """The XML WeChat would push for `message` (plaintext form)."""
    head: Head = {
        "ToUserName": message.account_original_id,
        "FromUserName": message.openid,
        "CreateTime": message.create_time,
        "MsgType": message.msg_type,
    }
    extra = ""
    if isinstance(message, TextMessage):
        head |= {"Content": message.content, "MsgId": message.id}
    elif isinstance(message, UnknownMessage):
        head |= {"Event": message.event_name or None, "MsgId": message.id}
        head |= dict(message.fields_)
    else:
        fields, extra = _BY_TYPE[type(message)].render(message)
        head |= {"Event": message.event} | fields
    xml = render_fields(head)
    if extra:
        xml = xml[: -len("</xml>")] + extra + "</xml>"
    return xml.encode("utf-8")


def render_encrypted_push(*, account_original_id: str, encrypt: str) -> bytes:
    """Safe-mode body: only the original id and the ciphertext."""
    return render_fields({"ToUserName": account_original_id, "Encrypt": encrypt}).encode("utf-8")


def render_compatible_push(plain: bytes, *, encrypt: str) -> bytes:
    """Compatible-mode body: the plaintext fields and the same message encrypted beside them."""
    head, closing, _ = plain.rstrip().rpartition(b"</xml>")
    if not closing:
        raise ValueError("not a WeChat XML message")
    return head + f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>".encode()
