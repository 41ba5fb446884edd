"""Statistics pages: a chart and the table of its data, over a range of months the operator picks."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from wxnotify.accounts.access import account_required
from wxnotify.console.params import as_text
from wxnotify.stats import selectors


@account_required()
def subscriptions(request: HttpRequest) -> HttpResponse:
    """A2: new subscriptions per month per template."""
    months = selectors.month_range(
        as_text(request.GET.get("from"), max_length=7), as_text(request.GET.get("to"), max_length=7)
    )
    series = selectors.subscriptions_by_month(request.account, months)  # type: ignore[attr-defined]
    labels = [f"{m:%Y-%m}" for m in months.months]
    chart = {
        "kind": "bar",
        "categories": labels,
        "yName": _("新增订阅（次）"),
        "series": [
            {"name": s.template.title + (" ★" if s.reused else ""), "data": s.accepts, "stack": "accepts"}
            for s in series
        ],
    }
    rows = [(label, [(s.accepts[i], s.first_time[i]) for s in series]) for i, label in enumerate(labels)]
    context = {
        "months": months,
        "series": series,
        "chart": chart,
        "rows": rows,
        "totals": [(s.total, sum(s.first_time)) for s in series],
    }
    return render(request, "stats/subscriptions.html", context)
