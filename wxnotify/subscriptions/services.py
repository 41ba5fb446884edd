"""Every write to templates, activities and the ledger goes through here."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from wechat.keywords import placeholders, rule_of
from wechat.messages import SubscribeChangeEvent, SubscribePopupEvent
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.models import InboundMessage
from wxnotify.subscriptions.models import Activity, PageVisit, Subscription, SubscriptionEvent, Template

log = logging.getLogger(__name__)

VISIT_WINDOW = timedelta(hours=24)  # an H5 accept is credited to the activity page seen within this time
_LINE = re.compile(r"^\s*(?P<name>[^:：{]+?)\s*[:：]\s*\{\{\s*(?P<key>[a-z_]+\d+)\.DATA\s*\}\}", re.M)


def parse_keywords(content: str) -> list[dict[str, str]]:
    """`会议时间:{{date2.DATA}}` lines → [{"key": "date2", "name": "会议时间", "rule": "date"}]."""
    names = {m["key"]: m["name"].strip() for m in _LINE.finditer(content)}
    return [{"key": key, "name": names.get(key, key), "rule": rule_of(key)} for key in placeholders(content)]


# --- templates -------------------------------------------------------------------------------------


@dataclass
class TemplateSyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0


@transaction.atomic
def apply_template_list(*, account: OfficialAccount, items: Iterable[dict[str, Any]]) -> TemplateSyncReport:
    """Make our templates match WeChat's gettemplate answer; say what was added, changed and deleted upstream."""
    now = timezone.now()
    report = TemplateSyncReport()
    seen: set[str] = set()
    existing = {
        t.template_id: t
        for t in Template.objects.select_for_update()
        .filter(account=account)
        .exclude(kind=Template.Kind.LEGACY_ONE_TIME)
    }
    for item in items:
        template_id = str(item.get("priTmplId", ""))
        if not template_id:
            continue
        seen.add(template_id)
        content = str(item.get("content", ""))
        title = str(item.get("title", ""))[:100]
        fields: dict[str, Any] = {
            "title": title,
            "content": content,
            "example": str(item.get("example", "")),
            "kind": Template.Kind.LONG_TERM if int(item.get("type", 2)) == 3 else Template.Kind.ONE_TIME,
            "keywords": parse_keywords(content),
        }
        template = existing.get(template_id)
        if template is None:
            Template.objects.create(account=account, template_id=template_id, synced_at=now, **fields)
            report.added.append(title)
            continue
        changed = any(getattr(template, k) != v for k, v in fields.items())
        revived = template.status == Template.Status.DELETED
        for k, v in fields.items():
            setattr(template, k, v)
        template.synced_at = now
        template.status = Template.Status.ACTIVE
        if changed or revived:
            template.changed_upstream_at = now
            report.changed.append(template.title)
        else:
            report.unchanged += 1
        template.save()
    for template_id, template in existing.items():
        if template_id not in seen and template.status != Template.Status.DELETED:
            template.status = Template.Status.DELETED
            template.changed_upstream_at = now
            template.save(update_fields=["status", "changed_upstream_at"])
            report.deleted.append(template.title)
    return report


def ensure_legacy_template(account: OfficialAccount) -> Template | None:
    """The older one-time subscription message as a template of its own (one free-text field)."""
    if not account.one_time_template_id:
        return None
    template, _ = Template.objects.get_or_create(
        account=account,
        template_id=account.one_time_template_id,
        defaults={
            "title": "一次性订阅消息",
            "content": "内容:{{content.DATA}}",
            "kind": Template.Kind.LEGACY_ONE_TIME,
            "keywords": [{"key": "content", "name": "内容", "rule": "content"}],
        },
    )
    return template


# --- attribution --------------------------------------------------------------------------------


def attribute(
    *, account: OfficialAccount, openid: str, template: Template, popup_scene: int | None, at: datetime
) -> Activity | None:
    """Which activity an accept came from.

    H5 page (scene 1): the activity page this patient opened most recently (within a day) that offers
    the template. Article (scene 2) or unknown: the one open activity using the template, if exactly one;
    otherwise None — shown as "unattributed" rather than guessed.
    """
    if popup_scene == 1:
        visit = (
            PageVisit.objects.filter(
                account=account, openid=openid, visited_at__gte=at - VISIT_WINDOW, activity__templates=template
            )
            .order_by("-visited_at")
            .select_related("activity")
            .first()
        )
        if visit is not None:
            return visit.activity
    candidates = list(template.activities.filter(Activity.open_q(at))[:2])
    return candidates[0] if len(candidates) == 1 else None


# --- the ledger ---------------------------------------------------------------------------------


def _row(account: OfficialAccount, template: Template, openid: str) -> Subscription:
    row, _ = Subscription.objects.get_or_create(account=account, template=template, openid=openid)
    return row


def _templates(account: OfficialAccount, ids: Iterable[str]) -> dict[str, Template]:
    found = {t.template_id: t for t in Template.objects.filter(account=account, template_id__in=list(ids))}
    return found


def record_popup(
    *, account: OfficialAccount, event: SubscribePopupEvent, inbound: InboundMessage | None, at: datetime
) -> int:
    """Apply a popup answer. Runs inside the callback's transaction, once per stored push."""
    templates = _templates(account, [c.template_id for c in event.choices])
    applied = 0
    for choice in event.choices:
        template = templates.get(choice.template_id)
        if template is None:  # not ours (another account's, or not synced yet): stored in the raw log, nothing else
            log.warning("popup event for unknown template %s on %s", choice.template_id, account.appid)
            continue
        source = {1: SubscriptionEvent.Source.H5, 2: SubscriptionEvent.Source.ARTICLE}.get(
            choice.popup_scene or 0, SubscriptionEvent.Source.OTHER
        )
        row = _row(account, template, event.openid)
        if choice.accepted:
            updates: dict[str, Any] = {"accepts": F("accepts") + 1, "last_accepted_at": at}
            if template.kind == Template.Kind.LONG_TERM:
                updates["long_term_on"] = True
            else:
                updates["credits"] = F("credits") + 1
            Subscription.objects.filter(pk=row.pk).update(**updates)
            Subscription.objects.filter(pk=row.pk, first_accepted_at__isnull=True).update(first_accepted_at=at)
            activity = attribute(
                account=account, openid=event.openid, template=template, popup_scene=choice.popup_scene, at=at
            )
            kind = SubscriptionEvent.Kind.ACCEPT
        else:
            if template.kind == Template.Kind.LONG_TERM:
                Subscription.objects.filter(pk=row.pk).update(long_term_on=False, rejected_at=at)
            activity = None
            kind = SubscriptionEvent.Kind.REJECT
        SubscriptionEvent.objects.create(
            account=account,
            template=template,
            openid=event.openid,
            kind=kind,
            source=source,
            activity=activity,
            occurred_at=at,
            inbound=inbound,
        )
        applied += 1
    return applied


def record_settings_rejection(
    *, account: OfficialAccount, event: SubscribeChangeEvent, inbound: InboundMessage | None, at: datetime
) -> int:
    """The patient switched templates off in WeChat's settings: nothing can be sent any more."""
    templates = _templates(account, [c.template_id for c in event.choices if not c.accepted])
    for template in templates.values():
        row = _row(account, template, event.openid)
        Subscription.objects.filter(pk=row.pk).update(credits=0, long_term_on=False, legacy_scenes=[], rejected_at=at)
        SubscriptionEvent.objects.create(
            account=account,
            template=template,
            openid=event.openid,
            kind=SubscriptionEvent.Kind.SETTINGS_REJECT,
            source=SubscriptionEvent.Source.SETTINGS,
            occurred_at=at,
            inbound=inbound,
        )
    return len(templates)


@transaction.atomic
def record_confirm(*, activity: Activity, openid: str, scene: int) -> bool:
    """The older one-time subscription confirm page said "confirm": one send for this scene.

    Returns False when this scene was already authorised and unused (WeChat does not add another).
    """
    account = activity.account
    template = ensure_legacy_template(account)
    if template is None:
        return False
    row = Subscription.objects.select_for_update().get(pk=_row(account, template, openid).pk)
    if scene in row.legacy_scenes:
        return False
    now = timezone.now()
    row.legacy_scenes = [*row.legacy_scenes, scene]
    row.credits = len(row.legacy_scenes)
    row.accepts += 1
    row.first_accepted_at = row.first_accepted_at or now
    row.last_accepted_at = now
    row.save()
    SubscriptionEvent.objects.create(
        account=account,
        template=template,
        openid=openid,
        kind=SubscriptionEvent.Kind.ACCEPT,
        source=SubscriptionEvent.Source.CONFIRM_LINK,
        activity=activity,
        occurred_at=now,
    )
    return True


def record_visit(*, activity: Activity, openid: str) -> None:
    PageVisit.objects.create(account=activity.account, activity=activity, openid=openid)


# --- counts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    historical: int  # ever accepted
    current: int  # can receive a notification now


def save_activity(*, form: Any, user: User | None) -> Activity:
    """Save a valid ActivityForm (the console's or the API's): a new activity remembers who made it."""
    activity: Activity = form.save()
    if not activity.created_by_id and getattr(user, "pk", None):
        Activity.objects.filter(pk=activity.pk).update(created_by=user)
        activity.created_by = user
    return activity


def template_counts(account: OfficialAccount) -> dict[int, Counts]:
    """Per template id (our pk): historical and current subscribers, in one query."""
    rows = (
        Subscription.objects.filter(account=account)
        .values("template_id")
        .annotate(
            historical=Count("id", filter=Q(first_accepted_at__isnull=False)),
            current=Count("id", filter=Subscription.current_q()),
        )
    )
    return {r["template_id"]: Counts(r["historical"], r["current"]) for r in rows}


def activity_counts(activity: Activity) -> dict[int, Counts]:
    """Per template of the activity: patients whose accept was credited to it, and how many can receive now."""
    result: dict[int, Counts] = {}
    for template in activity.templates.all():
        accepted = SubscriptionEvent.objects.filter(
            activity=activity, template=template, kind=SubscriptionEvent.Kind.ACCEPT
        ).values("openid")
        historical = accepted.distinct().count()
        current = (
            Subscription.objects.filter(template=template, openid__in=accepted).filter(Subscription.current_q()).count()
        )
        result[template.pk] = Counts(historical, current)
    return result


def unattributed_accepts(account: OfficialAccount) -> int:
    return SubscriptionEvent.objects.filter(
        account=account, kind=SubscriptionEvent.Kind.ACCEPT, activity__isnull=True
    ).count()


# --- what sending does to the ledger (called by the campaigns' store, in its write-back transaction) -----


def use_credits(*, template_id: int, openids: Sequence[str]) -> None:
    """A delivered one-time notification uses one credit of each of these patients."""
    # No "credits > 0" in the WHERE: with it SQLite chose the (template, credits) index and scanned every
    # subscriber of the template per write-back (a fifth of a worker's time); the (template, openid) key is it.
    Subscription.objects.filter(template_id=template_id, openid__in=list(openids)).update(
        credits=Greatest(F("credits") - 1, 0)
    )


def use_scenes(*, template_id: int, used: Sequence[tuple[str, int | None]]) -> None:
    """The older one-time message: each authorised scene allows one send; the one used is gone."""
    scene_of = dict(used)
    rows = list(Subscription.objects.filter(template_id=template_id, openid__in=list(scene_of)))
    for row in rows:
        scenes = list(row.legacy_scenes)
        if scene_of[row.openid] in scenes:
            scenes.remove(scene_of[row.openid])
        row.legacy_scenes, row.credits = scenes, len(scenes)
    Subscription.objects.bulk_update(rows, ["legacy_scenes", "credits"], batch_size=500)


def zero(*, account_id: int, template_id: int, openids: Sequence[str], at: datetime) -> None:
    """WeChat answered 43101: these patients cannot receive the template now, whatever our ledger said."""
    Subscription.objects.filter(template_id=template_id, openid__in=list(openids)).update(
        credits=0, long_term_on=False, legacy_scenes=[]
    )
    SubscriptionEvent.objects.bulk_create(
        [
            SubscriptionEvent(
                account_id=account_id,
                template_id=template_id,
                openid=openid,
                kind=SubscriptionEvent.Kind.ZEROED,
                source=SubscriptionEvent.Source.SENDING,
                occurred_at=at,
            )
            for openid in openids
        ]
    )
