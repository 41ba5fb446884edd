"""Callback handlers: a follow or scan gets its welcome, a message its keyword reply, a menu tap is
recorded (and a CLICK may be answered). They run inside the transaction that stores the push, so a
push WeChat retries is answered and counted once."""

from __future__ import annotations

from wechat.messages import FollowEvent, MenuClickEvent, MenuViewEvent, ScanEvent, TextMessage, UnknownMessage
from wechat.replies import Reply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.dispatch import handles
from wxnotify.callbacks.models import InboundMessage
from wxnotify.engagement import services
from wxnotify.engagement.services import to_datetime

# Menu buttons other than click/view push these events, each with the button's key (docs/wechat-protocol.md §5).
OTHER_MENU_EVENTS = frozenset(
    {"scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select"}
)
# What a patient can send besides text; the default reply answers these too.
USER_MESSAGES = frozenset({"image", "voice", "video", "shortvideo", "location", "link"})


def on_follow_or_scan(
    account: OfficialAccount, event: FollowEvent | ScanEvent, inbound: InboundMessage
) -> Reply | None:
    return services.answer_follow(
        account=account,
        openid=event.openid,
        scene=event.scene,
        at=to_datetime(event.create_time),
        inbound=inbound,
        scan=isinstance(event, ScanEvent),
    )


handles(FollowEvent)(on_follow_or_scan)
handles(ScanEvent)(on_follow_or_scan)


@handles(TextMessage)
def on_text(account: OfficialAccount, message: TextMessage, inbound: InboundMessage) -> Reply | None:
    return services.answer_text(
        account=account, content=message.content, inbound=inbound, at=to_datetime(message.create_time)
    )


@handles(MenuClickEvent)
def on_click(account: OfficialAccount, event: MenuClickEvent, inbound: InboundMessage) -> Reply | None:
    at = to_datetime(event.create_time)
    services.record_tap(
        account=account, openid=event.openid, event="CLICK", value=event.key, menu_id=None, at=at, inbound=inbound
    )
    return services.answer_click(account=account, key=event.key, inbound=inbound, at=at)


@handles(MenuViewEvent)
def on_view(account: OfficialAccount, event: MenuViewEvent, inbound: InboundMessage) -> Reply | None:
    services.record_tap(
        account=account,
        openid=event.openid,
        event="VIEW",
        value=event.url,
        menu_id=event.menu_id,
        at=to_datetime(event.create_time),
        inbound=inbound,
    )
    return None


@handles(UnknownMessage)
def on_other(account: OfficialAccount, message: UnknownMessage, inbound: InboundMessage) -> Reply | None:
    at = to_datetime(message.create_time)
    event = message.event_name or ""
    fields = dict(message.fields_)
    if event in OTHER_MENU_EVENTS or event == "view_miniprogram":
        services.record_tap(
            account=account,
            openid=message.openid,
            event=event,
            value=fields.get("EventKey", ""),
            menu_id=fields.get("MenuId"),
            at=at,
            inbound=inbound,
        )
        return (
            services.answer_click(account=account, key=fields.get("EventKey", ""), inbound=inbound, at=at)
            if event in OTHER_MENU_EVENTS
            else None
        )
    if not event and message.msg_type in USER_MESSAGES:
        return services.answer_text(account=account, content="", inbound=inbound, at=at)
    return None
