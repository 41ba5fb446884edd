"""Reads for the engagement pages: counts, the draft, the live menu, versions with their items' history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from wxnotify.accounts.models import OfficialAccount
from wxnotify.engagement.models import KeywordRule, MenuDraft, MenuVersion, SecondMessage


def second_message_counts(account: OfficialAccount, *, days: int = 30) -> dict[str, int]:
    since = timezone.now() - timedelta(days=days)
    rows = (
        SecondMessage.objects.filter(account=account, is_test=False, created_at__gte=since)
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
    """Versions, newest first, each item marked new, renamed (from what) or moved since the version before."""
    versions = list(
        MenuVersion.objects.filter(account=account)
        .select_related("published_by")
        .prefetch_related("items__parent")
        .order_by("-number")[: limit + 1]
    )
    out = []
    for i, version in enumerate(versions[:limit]):
        previous = versions[i + 1] if i + 1 < len(versions) else None
        before = {it.item_id: it for it in previous.items.all()} if previous else {}
        items = []
        for it in sorted(
            version.items.all(),
            key=lambda x: (x.parent.position if x.parent else x.position, x.parent is not None, x.position),
        ):
            old = before.get(it.item_id)
            change = ""
            if previous is not None and old is None:
                change = "new"
            elif old is not None and old.name != it.name:
                change = "renamed"
            elif old is not None and (
                old.position != it.position
                or (old.parent.item_id if old.parent else None) != (it.parent.item_id if it.parent else None)
            ):
                change = "moved"
            items.append({"item": it, "change": change, "old_name": old.name if old else ""})
        gone = [it for key, it in before.items() if key not in {x.item_id for x in version.items.all()}]
        out.append({"version": version, "items": items, "removed": gone})
    return out
