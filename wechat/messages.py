"""Every inbound message and event the product understands, as frozen dataclasses (docs/wechat-protocol.md §5).

WeChat's names (`FromUserName`, `MsgType`) stop at the parser: here an openid is `openid` and the
account's original id (gh_…) is `account_original_id`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields


@dataclass(frozen=True, kw_only=True)
class Message:
    account_original_id: str  # ToUserName
    openid: str  # FromUserName
    create_time: int  # CreateTime, seconds since the epoch
    msg_type: str  # MsgType as sent ("text", "event", ...)

    @property
    def event(self) -> str:
        return ""

    @property
    def msg_id(self) -> int | None:
        return None

    def dedupe_key(self) -> str:
        """The key WeChat's retries share (docs/wechat-protocol.md §4.4).

        Messages with a MsgId use it. Events use FromUserName + CreateTime + Event, and also their
        content, so two different events of one patient in the same second are not merged while a
        retry (the same payload again) still is.
        """
        if self.msg_id is not None:
            return f"msg:{self.msg_id}"
        body = "|".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return "evt:" + hashlib.sha1(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class TextMessage(Message):
    content: str
    id: int

    @property
    def msg_id(self) -> int | None:
        return self.id


@dataclass(frozen=True, kw_only=True)
class FollowEvent(Message):
    """`subscribe`: the patient followed the account; `scene` is set when it came from a parametric QR code."""

    scene: str | None = None  # EventKey without its "qrscene_" prefix
    ticket: str | None = None

    @property
    def event(self) -> str:
        return "subscribe"


@dataclass(frozen=True, kw_only=True)
class UnfollowEvent(Message):
    @property
    def event(self) -> str:
        return "unsubscribe"


@dataclass(frozen=True, kw_only=True)
class ScanEvent(Message):
    """`SCAN`: an existing follower scanned a parametric QR code."""

    scene: str
    ticket: str | None = None

    @property
    def event(self) -> str:
        return "SCAN"


@dataclass(frozen=True, kw_only=True)
class MenuClickEvent(Message):
    key: str

    @property
    def event(self) -> str:
        return "CLICK"


@dataclass(frozen=True, kw_only=True)
class MenuViewEvent(Message):
    url: str
    menu_id: str | None = None

    @property
    def event(self) -> str:
        return "VIEW"


@dataclass(frozen=True)
class SubscribeChoice:
    """One template in a popup or settings change: status is accept / reject (as WeChat sends it)."""

    template_id: str
    status: str
    popup_scene: int | None = None  # 1 = H5 page, 2 = article, 0 = mini program; None in change events

    @property
    def accepted(self) -> bool:
        return self.status == "accept"


@dataclass(frozen=True, kw_only=True)
class SubscribePopupEvent(Message):
    choices: tuple[SubscribeChoice, ...]

    @property
    def event(self) -> str:
        return "subscribe_msg_popup_event"


@dataclass(frozen=True, kw_only=True)
class SubscribeChangeEvent(Message):
    """The patient changed a template in settings; WeChat only pushes rejections."""

    choices: tuple[SubscribeChoice, ...]

    @property
    def event(self) -> str:
        return "subscribe_msg_change_event"


@dataclass(frozen=True)
class SentResult:
    template_id: str
    msg_id: int  # equals the msgid that bizsend returned
    error_code: int
    error_status: str

    @property
    def delivered(self) -> bool:
        return self.error_code == 0


@dataclass(frozen=True, kw_only=True)
class SubscribeSentEvent(Message):
    results: tuple[SentResult, ...]

    @property
    def event(self) -> str:
        return "subscribe_msg_sent_event"


@dataclass(frozen=True, kw_only=True)
class TemplateSendJobFinishEvent(Message):
    job_msg_id: int
    status: str  # "success", "failed:user block", "failed: system failed"

    @property
    def event(self) -> str:
        return "TEMPLATESENDJOBFINISH"


@dataclass(frozen=True, kw_only=True)
class UnknownMessage(Message):
    """Anything else WeChat may send (images, locations, other events): kept, never rejected."""

    event_name: str = ""
    id: int | None = None
    fields_: tuple[tuple[str, str], ...] = ()

    @property
    def event(self) -> str:
        return self.event_name

    @property
    def msg_id(self) -> int | None:
        return self.id


AnyMessage = (
    TextMessage
    | FollowEvent
    | UnfollowEvent
    | ScanEvent
    | MenuClickEvent
    | MenuViewEvent
    | SubscribePopupEvent
    | SubscribeChangeEvent
    | SubscribeSentEvent
    | TemplateSendJobFinishEvent
    | UnknownMessage
)
