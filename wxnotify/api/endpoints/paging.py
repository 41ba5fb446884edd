"""Keyset paging for the API, as the console pages: newest first, `before` the last id of the page seen."""

from __future__ import annotations

from typing import Any, Protocol

from django.db.models import QuerySet
from ninja import Field, Schema

from wxnotify.console.paging import keyset
from wxnotify.subscriptions.models import Subscription


class Before(Schema):
    before: int | None = Field(None, ge=1, description="The `next_before` of the previous page")
    limit: int = Field(100, ge=1, le=1000)
    current: bool = Field(False, description="Only those who can receive a notification now")


class Paged(Protocol):
    before: int | None
    limit: int


def page(rows: QuerySet[Any], paging: Paged) -> tuple[list[Any], int | None]:
    found = keyset(rows, paging.before, size=paging.limit)
    return found.rows, found.next_before


def subscriber_page(rows: QuerySet[Subscription], paging: Before) -> dict[str, Any]:
    if paging.current:
        rows = rows.filter(Subscription.current_q())
    items, after = page(rows.select_related("template"), paging)
    return {
        "items": [
            {
                "id": s.pk,
                "openid": s.openid,
                "template_id": s.template.template_id,
                "can_receive": s.can_receive,
                "credits": s.credits,
                "long_term_on": s.long_term_on,
                "accepts": s.accepts,
                "first_accepted_at": s.first_accepted_at,
                "last_accepted_at": s.last_accepted_at,
            }
            for s in items
        ],
        "next_before": after,
    }
