"""Reads for the engagement pages: counts, the draft, the live menu, versions with their items' history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from wxnotify.accounts.models import OfficialAccount
from wxnotify.engagement.models import KeywordRule, MenuDraft, MenuTap, MenuVersion, MenuVersionItem, SecondMessage


def second_message_counts(account: OfficialAccount, *, days: int = 30) -> dict[str, int]:
    """By state, for follows in the last `days` (the follow's own time: a late push counts when it happened)."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        SecondMessage.objects.filter(account=account, is_test=False)
        .filter(Q(inbound__created_at__gte=since) | Q(inbound__isnull=True, created_at__gte=since))
        .values("state")
        .annotate(n=Count("id"))
    )
    return {r["state"]: r["n"] for r in rows}


def rules_with_hits(account: OfficialAccount, *, days: int = 30) -> list[KeywordRule]:
    since = timezone.now() - timedelta(days=days)
    return list(
        KeywordRule.objects.filter(account=account)
        .annotate(recent_hits=Count("hits", filter=Q(hits__at__gte=since)))
        .order_by("priority", "id")
    )


def live_version(account: OfficialAccount) -> MenuVersion | None:
    return MenuVersion.objects.filter(account=account).order_by("-number").first()


def draft_rows(account: OfficialAccount) -> list[dict[str, Any]]:
    """What the editor starts from: the draft, else the live version, else nothing."""
    from wxnotify.engagement.services import version_rows

    draft = MenuDraft.objects.filter(account=account).first()
    if draft is not None:
        return list(draft.rows)
    live = live_version(account)
    return version_rows(live) if live else []


def draft_differs(account: OfficialAccount, buttons: list[dict[str, Any]]) -> bool:
    live = live_version(account)
    return live is None or live.buttons != buttons


def menu_tree(buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The preview's columns: each top-level name and its sub-items' names."""
    return [
        {"name": b.get("name", ""), "subs": [s.get("name", "") for s in b.get("sub_button") or []]} for b in buttons
    ]


def versions_with_items(account: OfficialAccount, *, limit: int = 20) -> list[dict[str, Any]]:
    """Versions, newest first, each item marked new, renamed (from what) or moved since the version before,
    with the taps it had while that version was live."""
    versions = list(
        MenuVersion.objects.filter(account=account)
        .select_related("published_by")
        .prefetch_related("items__parent", "items__item")
        .order_by("-number")[: limit + 1]
    )
    taps = {
        (r["version_id"], r["item_id"]): r["n"]
        for r in MenuTap.objects.filter(version__in=versions[:limit], item__isnull=False)
        .values("version_id", "item_id")
        .annotate(n=Count("id"))
    }
    out = []
    for i, version in enumerate(versions[:limit]):
        previous = versions[i + 1] if i + 1 < len(versions) else None
        before = {it.item_id: it for it in previous.items.all()} if previous else {}
        current = list(version.items.all())
        items = []
        for it in sorted(current, key=_tree_order):
            old = before.get(it.item_id)
            items.append(
                {
                    "item": it,
                    "change": _change(old, it, first=previous is None),
                    "old_name": old.name if old else "",
                    "taps": taps.get((version.pk, it.item_id), 0),
                }
            )
        kept = {it.item_id for it in current}
        out.append({"version": version, "items": items, "removed": [it for k, it in before.items() if k not in kept]})
    return out


def _tree_order(it: MenuVersionItem) -> tuple[int, bool, int]:
    return (it.parent.position if it.parent else it.position, it.parent is not None, it.position)


def _change(old: MenuVersionItem | None, new: MenuVersionItem, *, first: bool) -> str:
    if old is None:
        return "" if first else "new"
    if old.name != new.name:
        return "renamed"
    old_parent = old.parent.item_id if old.parent else None
    new_parent = new.parent.item_id if new.parent else None
    return "moved" if (old.position, old_parent) != (new.position, new_parent) else ""
