"""A follower's personal data on request (PIPL): everything stored about one openid of one account, exported
or erased; and the retention that erases by itself.

Erasing replaces the openid, on every row of that person, by one new random pseudonym (`anon_…`) and empties
what they wrote or sent (a message's text, a picture's address, a location): nothing left leads back to the
person, while every count — per day, per item, per send, and the different people among them — stays what
it was, so the statistics (and `rebuild_stats` from the raw rows) give the same figures before and after. The
ledger row can no longer be sent to (its credits are gone: the pseudonym is nobody in WeChat)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.models import InboundMessage
from wxnotify.campaigns.models import Click, Delivery, Previewer
from wxnotify.engagement.models import MenuTap, SecondMessage
from wxnotify.followers.models import Follower, FollowerChange
from wxnotify.privacy.models import PrivacyAction
from wxnotify.subscriptions.models import PageVisit, Subscription, SubscriptionEvent

PSEUDONYM = "anon_"
# What a patient wrote or sent, inside a stored push: emptied on erasure (the push's kind and time stay).
_PERSONAL_TAGS = (
    "Content",
    "PicUrl",
    "MediaId",
    "ThumbMediaId",
    "Format",
    "Recognition",
    "Location_X",
    "Location_Y",
    "Scale",
    "Label",
    "Title",
    "Description",
    "Url",
    "Latitude",
    "Longitude",
    "Precision",
)
_TAG = re.compile(r"<(" + "|".join(_PERSONAL_TAGS) + r")>.*?</\1>", re.S)


@dataclass(frozen=True)
class Kind:
    """One kind of row that names a person: the model, its label, and the columns an export shows."""

    key: str
    label: Any
    model: type[Model]
    columns: tuple[tuple[str, Any], ...]  # (field, header)

    @property
    def fields(self) -> list[str]:
        return [field for field, _header in self.columns]

    @property
    def header(self) -> list[str]:
        return [str(header) for _field, header in self.columns]


_OPENID = ("openid", "OpenID")
_TEMPLATE = ("template__title", _("模板"))
_CAMPAIGN = ("campaign__name", _("通知"))
KINDS = (
    Kind(
        "follower",
        _("关注"),
        Follower,
        (
            _OPENID,
            ("is_following", _("关注中")),
            ("first_followed_at", _("首次关注")),
            ("followed_at", _("最近关注")),
            ("unfollowed_at", _("取消关注")),
            ("qr_scene", _("关注来源场景")),
            ("source", _("关注渠道")),
        ),
    ),
    Kind(
        "follower_changes",
        _("关注变化"),
        FollowerChange,
        (("follower__openid", "OpenID"), ("kind", _("变化")), ("qr_scene", _("场景")), ("occurred_at", _("时间"))),
    ),
    Kind(
        "subscriptions",
        _("订阅"),
        Subscription,
        (
            _OPENID,
            _TEMPLATE,
            ("credits", _("可发送次数")),
            ("long_term_on", _("长期订阅开启")),
            ("accepts", _("累计同意次数")),
            ("first_accepted_at", _("首次订阅")),
            ("last_accepted_at", _("最近订阅")),
            ("rejected_at", _("拒绝时间")),
        ),
    ),
    Kind(
        "subscription_events",
        _("订阅记录"),
        SubscriptionEvent,
        (
            _OPENID,
            _TEMPLATE,
            ("kind", _("变化")),
            ("source", _("来源")),
            ("activity__title", _("活动")),
            ("occurred_at", _("时间")),
        ),
    ),
    Kind(
        "page_visits", _("活动页访问"), PageVisit, (_OPENID, ("activity__title", _("活动")), ("visited_at", _("时间")))
    ),
    Kind(
        "deliveries",
        _("收到的通知"),
        Delivery,
        (
            _OPENID,
            _CAMPAIGN,
            ("state", _("状态")),
            ("errcode", _("错误码")),
            ("errmsg", _("错误信息")),
            ("finished_at", _("完成时间")),
            ("confirmed_at", _("送达时间")),
        ),
    ),
    Kind("clicks", _("通知点击"), Click, (_OPENID, _CAMPAIGN, ("at", _("时间")))),
    Kind("menu_taps", _("菜单点击"), MenuTap, (_OPENID, ("event", _("事件")), ("value", _("内容")), ("at", _("时间")))),
    Kind(
        "second_messages",
        _("关注后第二条消息"),
        SecondMessage,
        (_OPENID, ("state", _("状态")), ("errcode", _("错误码")), ("created_at", _("时间"))),
    ),
    Kind(
        "messages",
        _("消息与事件"),
        InboundMessage,
        (
            _OPENID,
            ("msg_type", _("消息类型")),
            ("event", _("事件")),
            ("created_at", _("微信时间")),
            ("body", _("原文")),
        ),
    ),
)


def _rows(kind: Kind, account: OfficialAccount, openid: str) -> QuerySet[Any]:
    model: Any = kind.model
    if model is FollowerChange:
        return model.objects.filter(account=account, follower__openid=openid)
    if model is Delivery:
        return model.objects.filter(campaign__account=account, openid=openid)
    return model.objects.filter(account=account, openid=openid)


def _emptied(body: str) -> str:
    """A stored push without what the patient wrote or sent (the tags stay, empty)."""
    return _TAG.sub(lambda m: f"<{m.group(1)}></{m.group(1)}>", body)


def found(account: OfficialAccount, openid: str) -> dict[str, int]:
    """How many rows of each kind name this person (0 everywhere: we hold nothing of them)."""
    return {kind.key: _rows(kind, account, openid).count() for kind in KINDS}


def export(account: OfficialAccount, openid: str) -> Iterator[tuple[str, list[str], Iterator[list[Any]]]]:
    """Every row of this person, as sheets (title, header, rows) for the console's workbook."""
    for kind in KINDS:
        rows = _rows(kind, account, openid).order_by("pk").values_list(*kind.fields)
        yield str(kind.label), kind.header, ([_cell(v) for v in row] for row in rows.iterator(chunk_size=2000))


def _cell(value: Any) -> Any:
    """Times as the console shows them (Beijing time), the rest as stored."""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    return value


def erase(*, account: OfficialAccount, openid: str, user: User | None, why: str) -> dict[str, int]:
    """Erase this person from this account (see the module's docstring); returns the rows changed per kind."""
    pseudonym = PSEUDONYM + secrets.token_hex(12)
    changed: dict[str, int] = {}
    with transaction.atomic():
        for kind in KINDS:
            model: Any = kind.model
            if model is FollowerChange:
                continue  # it points at the follower row, which is renamed
            rows = _rows(kind, account, openid)
            if model is InboundMessage:
                n = 0
                for message in rows.only("pk", "body"):
                    body = _emptied(message.body).replace(openid, pseudonym)
                    InboundMessage.objects.filter(pk=message.pk).update(openid=pseudonym, body=body)
                    n += 1
                changed[kind.key] = n
            elif model is Subscription:
                changed[kind.key] = rows.update(openid=pseudonym, credits=0, long_term_on=False, legacy_scenes=[])
            elif model is SecondMessage:
                changed[kind.key] = rows.update(openid=pseudonym, content={})
            else:
                changed[kind.key] = rows.update(openid=pseudonym)
        changed["previewer"] = Previewer.objects.filter(account=account, openid=openid).delete()[0]
        PrivacyAction.objects.create(
            account=account,
            user=user if getattr(user, "pk", None) else None,
            kind=PrivacyAction.Kind.ERASE,
            subject=digest(account, openid),
            why=why[:200],
            rows=changed,
        )
    return changed


def record_export(*, account: OfficialAccount, openid: str, user: User | None, why: str) -> None:
    PrivacyAction.objects.create(
        account=account,
        user=user,
        kind=PrivacyAction.Kind.EXPORT,
        subject=digest(account, openid),
        why=why[:200],
        rows=found(account, openid),
    )


def digest(account: OfficialAccount, openid: str) -> str:
    """Who a request was about, without keeping who: a keyed hash (the project's secret) that a later request
    for the same openid matches, and that leads to nobody once the openid is gone."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{account.pk}:{openid}".encode(), hashlib.sha256).hexdigest()[:16]


def apply_retention(now: Any = None) -> dict[str, int]:
    """The nightly task: people who unfollowed more than WXNOTIFY_RETAIN_UNFOLLOWED_DAYS ago are erased; the
    text of stored pushes older than WXNOTIFY_RETAIN_MESSAGES_DAYS is emptied (their kind and time stay)."""
    now = now or timezone.now()
    erased = 0
    gone_before = now - timedelta(days=settings.WXNOTIFY_RETAIN_UNFOLLOWED_DAYS)
    left = Follower.objects.filter(is_following=False, unfollowed_at__lt=gone_before).exclude(
        openid__startswith=PSEUDONYM
    )
    for follower in left.select_related("account").iterator(chunk_size=500):
        erase(account=follower.account, openid=follower.openid, user=None, why="retention")
        erased += 1
    old = InboundMessage.objects.filter(received_at__lt=now - timedelta(days=settings.WXNOTIFY_RETAIN_MESSAGES_DAYS))
    emptied = old.exclude(body="").update(body="")
    return {"erased_people": erased, "emptied_messages": emptied}
