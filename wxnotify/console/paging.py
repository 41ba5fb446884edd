"""Keyset pagination: "rows older than id X", so page 1,000 costs what page 1 costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from wxnotify.console.params import as_int


@dataclass
class Page:
    rows: list[Any]
    next_before: int | None  # pass as ?before= for the next (older) page
    is_first: bool


def keyset_page(request: HttpRequest, queryset: QuerySet[Any], *, size: int = 50) -> Page:
    """Rows ordered by descending id, starting below ?before=; one extra row tells whether more exist."""
    return keyset(queryset, as_int(request.GET.get("before"), minimum=1), size=size)


def keyset(queryset: QuerySet[Any], before: int | None, *, size: int = 50) -> Page:
    """The same, for a caller that has read `before` itself (the API)."""
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows=rows, next_before=rows[-1].id if more and rows else None, is_first=before is None)
