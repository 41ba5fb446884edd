"""Every write of follower engagement: welcomes and their second message, keyword rules and their hits,
menu drafts, publishing and importing the menu, and the taps on it."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from wechat.errors import ErrorClass, WeChatAPIError, WeChatError, WeChatTransportError
from wechat.replies import Article, Reply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.accounts.wechat import account_api
from wxnotify.callbacks.models import InboundMessage
from wxnotify.engagement import menus, ruleset
from wxnotify.engagement.matching import choose_welcome
from wxnotify.engagement.models import (
    KeywordRule,
    MenuDraft,
    MenuItem,
    MenuTap,
    MenuVersion,
    MenuVersionItem,
    ReplyHit,
    SecondMessage,
    Welcome,
    custom_content,
)
from wxnotify.followers.selectors import followed_before

log = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser | None

# After a follow or a scan WeChat lets an account send 3 customer-service messages within one minute
# (docs/wechat-protocol.md §7).
# A follow older than that when it reaches us (the demo's history, a push WeChat retried for long) gets no
# second message: WeChat would refuse it.
FOLLOW_WINDOW = timedelta(seconds=60)
RETRY_DELAYS = (1.0, 2.0, 4.0)  # transient failures, inside the same minute


def _user(user: User) -> Any:
    return user if user is not None and user.is_authenticated else None


# --- welcomes and keyword rules ------------------------------------------------------------------


@transaction.atomic
def save_welcome(*, welcome: Welcome, user: User) -> Welcome:
    welcome.updated_by = _user(user)
    welcome.save()
    ruleset.bump(welcome.account)
    return welcome


@transaction.atomic
def delete_welcome(*, welcome: Welcome) -> None:
    account = welcome.account
    welcome.delete()
    ruleset.bump(account)


@transaction.atomic
def save_rule(*, rule: KeywordRule) -> KeywordRule:
    rule.save()
    ruleset.bump(rule.account)
    return rule


@transaction.atomic
def delete_rule(*, rule: KeywordRule) -> None:
    account = rule.account
    rule.delete()
    ruleset.bump(account)


# --- answering pushes (inside the callback's transaction) ----------------------------------------


def _sender(message_id: int) -> Any:
    """Queue the send for after this transaction commits, a moment later (WXNOTIFY_SECOND_MESSAGE_DELAY_SECONDS):
    WeChat shows messages in the order they reach it, and the passive reply travels back in the push's answer."""
    from django.conf import settings

    from wxnotify.engagement.tasks import send_second_message

    delay = settings.WXNOTIFY_SECOND_MESSAGE_DELAY_SECONDS
    if delay > 0:
        return lambda: send_second_message.schedule(args=(message_id,), delay=delay)
    return lambda: send_second_message(message_id)


def answer_follow(
    *, account: OfficialAccount, openid: str, scene: str | None, at: datetime, inbound: InboundMessage, scan: bool
) -> Reply | None:
    """The passive reply to a follow (or a scan), and the second 图文 queued for the worker."""
    rules = ruleset.rules_for(account)
    refollow = scan or followed_before(account=account, openid=openid, excluding=inbound)
    welcome = choose_welcome(rules.welcomes, scene=scene, refollow=refollow, scan=scan)
    if welcome is None:
        return None
    if welcome.second is not None:
        _queue_second(
            account=account, welcome_id=welcome.id, openid=openid, article=welcome.second, at=at, inbound=inbound
        )
    return welcome.reply


def _queue_second(
    *, account: OfficialAccount, welcome_id: int, openid: str, article: Article, at: datetime, inbound: InboundMessage
) -> None:
    message = SecondMessage.objects.create(
        account=account, welcome_id=welcome_id, openid=openid, inbound=inbound, content=custom_content(article)
    )
    if timezone.now() - at > FOLLOW_WINDOW:
        message.state, message.errmsg, message.finished_at = SecondMessage.State.SKIPPED, "window", timezone.now()
        message.save(update_fields=["state", "errmsg", "finished_at"])
        return
    # Never inside the 5 seconds WeChat waits for this answer: the worker sends it once this push is stored.
    transaction.on_commit(_sender(message.pk))


def answer_text(*, account: OfficialAccount, content: str, inbound: InboundMessage, at: datetime) -> Reply | None:
    rule = ruleset.rules_for(account).matcher.answer_text(content)
    if rule is None:
        return None
    ReplyHit.objects.create(account=account, rule_id=rule.id, inbound=inbound, at=at)
    return rule.reply


def answer_click(*, account: OfficialAccount, key: str, inbound: InboundMessage, at: datetime) -> Reply | None:
    rule = ruleset.rules_for(account).matcher.answer_click(key)
    if rule is None:
        return None
    ReplyHit.objects.create(account=account, rule_id=rule.id, inbound=inbound, at=at)
    return rule.reply


# --- the second message (in the worker) ----------------------------------------------------------


def _finish(message: SecondMessage, state: str, *, errcode: int | None = None, errmsg: str = "") -> None:
    message.state, message.errcode, message.errmsg = state, errcode, errmsg[:255]
    message.finished_at = timezone.now()
    message.save(update_fields=["state", "errcode", "errmsg", "finished_at", "attempts"])


def send_second_message(*, message_id: int, sleep: Any = time.sleep) -> SecondMessage:
    """Send one queued second message with custom/send; retry transient failures a few times within the
    minute WeChat allows. 45015 / 45047 (outside the window, its quota used) and other refusals are final:
    recorded with WeChat's code, never retried blindly."""
    message = SecondMessage.objects.select_related("account").get(pk=message_id)
    if message.state != SecondMessage.State.PENDING:
        return message  # a second run of the same task (the queue delivers at least once)

    msgtype = str(message.content.get("msgtype", "news"))

    async def send() -> None:
        async with account_api(message.account) as api:
            await api.client.send_custom_message(
                openid=message.openid, msgtype=msgtype, content=message.content[msgtype]
            )

    for delay in (*RETRY_DELAYS, None):
        message.attempts += 1
        try:
            async_to_sync(send)()
        except WeChatAPIError as error:
            if error.error_class == ErrorClass.TRANSIENT and delay is not None:
                sleep(delay)
                continue
            _finish(message, SecondMessage.State.FAILED, errcode=error.errcode, errmsg=error.errmsg)
            return message
        except WeChatTransportError as error:
            if not error.maybe_delivered and delay is not None:
                sleep(delay)
                continue
            # It may have reached the patient: sending again could show it twice.
            _finish(message, SecondMessage.State.UNKNOWN, errmsg=str(error))
            return message
        except WeChatError as error:
            _finish(message, SecondMessage.State.FAILED, errmsg=str(error))
            return message
        _finish(message, SecondMessage.State.SENT)
        return message
    return message


def queue_test(*, account: OfficialAccount, welcome: Welcome, openid: str) -> list[SecondMessage]:
    """ "Send it to me": both messages of `welcome` to a previewer, through the same path as a real follow's
    second message (custom/send by the worker; the first goes the same way, as it cannot be a passive reply)."""
    queued = []
    contents = [custom_content(m) for m in (welcome.as_reply(), welcome.second_article()) if m is not None]
    with transaction.atomic():
        for content in contents:
            message = SecondMessage.objects.create(
                account=account, welcome=welcome, openid=openid, is_test=True, content=content
            )
            queued.append(message)
            transaction.on_commit(_sender(message.pk))
    return queued


# --- menu taps (inside the callback's transaction) -----------------------------------------------


def record_tap(
    *,
    account: OfficialAccount,
    openid: str,
    event: str,
    value: str,
    menu_id: str | None,
    at: datetime,
    inbound: InboundMessage,
) -> MenuTap:
    """Store a tap resolved to the item and the version live then: the version WeChat names (VIEW's MenuId),
    else the one published last before the tap."""
    versions = MenuVersion.objects.filter(account=account)
    version = None
    if menu_id and menu_id.isascii() and menu_id.isdigit():
        version = versions.filter(menu_id=int(menu_id)).first()
    if version is None:
        version = versions.filter(live_from__lte=at).order_by("-live_from", "-number").first()
    item_id = None
    if version is not None and value:
        field = {"VIEW": "url", "view_miniprogram": "pagepath"}.get(event, "key")
        item_id = version.items.filter(**{field: value}).values_list("item_id", flat=True).first()
    return MenuTap.objects.create(
        account=account,
        inbound=inbound,
        openid=openid,
        at=at,
        event=event[:32],
        value=value[:1024],
        item_id=item_id,
        version=version,
    )


# --- the menu editor, publishing, importing -------------------------------------------------------


class MenuRefused(Exception):
    """The menu cannot be published: `problems` say what and where, in the operator's words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def save_draft(*, account: OfficialAccount, rows: list[dict[str, Any]], user: User) -> MenuDraft:
    draft, _ = MenuDraft.objects.update_or_create(
        account=account, defaults={"rows": [menus.clean_row(r) for r in rows], "updated_by": _user(user)}
    )
    return draft


def _record_version(
    *,
    account: OfficialAccount,
    rows: list[dict[str, Any]],
    buttons: list[dict[str, Any]],
    source: str,
    menu_id: int | None,
    user: User,
    live_from: datetime | None = None,
) -> MenuVersion:
    with transaction.atomic():
        last = MenuVersion.objects.select_for_update().filter(account=account).order_by("-number").first()
        version = MenuVersion.objects.create(
            account=account,
            number=(last.number + 1) if last else 1,
            source=source,
            # whole seconds, as WeChat's CreateTime: a tap in the second of publishing belongs to the new version
            live_from=live_from or timezone.now().replace(microsecond=0),
            published_by=_user(user),
            menu_id=menu_id,
            buttons=buttons,
        )
        saved: dict[str, MenuVersionItem] = {}
        for row in sorted(
            (menus.clean_row(r) for r in rows if r.get("name")), key=lambda r: (bool(r["parent"]), r["position"])
        ):
            item, _ = MenuItem.objects.get_or_create(uid=row["uid"], defaults={"account": account})
            if item.account_id != account.pk:  # a uid from another account's form: a new identity instead
                item = MenuItem.objects.create(account=account)
            saved[row["uid"]] = MenuVersionItem.objects.create(
                version=version,
                item=item,
                parent=saved.get(row["parent"]),
                position=row["position"],
                **{f: row[f] for f in ("name", "type", *menus.FIELDS)},
            )
        MenuDraft.objects.update_or_create(account=account, defaults={"rows": version_rows(version)})
    return version


def publish_menu(*, account: OfficialAccount, rows: list[dict[str, Any]], user: User) -> MenuVersion:
    """Check the menu against WeChat's rules (nothing is sent if any fails), create it in WeChat, read back
    WeChat's menuid, and keep it as the next version."""
    rows = [menus.clean_row(r) for r in rows]  # a row without an identity gets one now, once
    built, problems = menus.problems_of(rows)
    if problems:
        raise MenuRefused(problems)

    async def create() -> int | None:
        async with account_api(account) as api:
            await api.client.create_menu(buttons=built.buttons)
            menu = (await api.client.get_menu()).get("menu") or {}
            menu_id = menu.get("menuid")
            return int(menu_id) if menu_id is not None else None

    try:
        menu_id = async_to_sync(create)()
    except WeChatAPIError as error:
        raise MenuRefused([_wechat_refusal(error)]) from error
    except WeChatError as error:
        raise MenuRefused([str(error)]) from error
    # Only the rows that became buttons, at the places WeChat has them.
    by_uid = {r["uid"]: r for r in rows}
    ordered = [
        by_uid[uid] | {"position": path[-1], "parent": built.uids[path[:1]] if len(path) == 2 else ""}
        for path, uid in built.uids.items()
    ]
    return _record_version(
        account=account,
        rows=ordered,
        buttons=built.buttons,
        source=MenuVersion.Source.PUBLISHED,
        menu_id=menu_id,
        user=user,
    )


def _wechat_refusal(error: WeChatAPIError) -> str:
    from django.utils.translation import gettext as _

    return _("微信拒绝了这个菜单：%(code)s %(msg)s") % {"code": error.errcode, "msg": error.errmsg}


def import_menu(*, account: OfficialAccount, user: User) -> MenuVersion:
    """The menu WeChat has now (menu/get) as the next version, items matched to those known by what they open."""

    async def fetch() -> dict[str, Any]:
        async with account_api(account) as api:
            return await api.client.get_menu()

    try:
        data = async_to_sync(fetch)()
    except WeChatAPIError as error:
        raise MenuRefused([_wechat_refusal(error)]) from error
    menu = data.get("menu") or {}
    buttons = list(menu.get("button") or [])
    latest = MenuVersion.objects.filter(account=account).order_by("-number").first()
    rows = menus.rows_from_buttons(buttons, version_rows(latest) if latest else ())
    menu_id = menu.get("menuid")
    return _record_version(
        account=account,
        rows=rows,
        buttons=buttons,
        source=MenuVersion.Source.IMPORTED,
        menu_id=int(menu_id) if menu_id is not None else None,
        user=user,
    )


def version_rows(version: MenuVersion) -> list[dict[str, Any]]:
    """A version's items as editor rows (the identity kept in `uid`)."""
    items = list(version.items.select_related("item", "parent__item"))
    return [
        {
            "uid": str(i.item.uid),
            "parent": str(i.parent.item.uid) if i.parent else "",
            "position": i.position,
            "name": i.name,
            "type": i.type,
            **{f: getattr(i, f) for f in menus.FIELDS},
        }
        for i in items
    ]


def to_datetime(create_time: int) -> datetime:
    return datetime.fromtimestamp(create_time, tz=UTC)
