"""Statistics pages: a chart and the table of its data, over a range of months the operator picks."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _

from wxnotify.accounts.access import AccountRequest, account_required
from wxnotify.campaigns.models import Campaign
from wxnotify.console.exports import csv_response, xlsx_response
from wxnotify.console.paging import keyset_page
from wxnotify.console.params import as_int, as_text
from wxnotify.stats import selectors, tables
from wxnotify.stats.models import DeliveryDaily
from wxnotify.subscriptions.models import Template


def _months(request: HttpRequest) -> selectors.MonthRange:
    first, last = (as_text(request.GET.get(name), max_length=7) for name in ("from", "to"))
    return selectors.month_range(first, last)


def _granularity(request: HttpRequest) -> str:
    value = request.GET.get("by", "month")
    return value if value in selectors.GRANULARITIES else "month"


def _export(request: HttpRequest, sheets: dict[str, tables.Table], name: str) -> HttpResponseBase | None:
    """When asked (?format=…): the page's tables as one Excel workbook, a sheet each (xlsx), or the table
    `?table=` names as CSV (the first one by default); else None."""
    fmt = request.GET.get("format")
    if fmt == "xlsx":
        return xlsx_response(f"{name}.xlsx", list(sheets.values()))
    if fmt != "csv":
        return None
    key = request.GET.get("table", "")
    key = key if key in sheets else next(iter(sheets))
    _title, header, rows = sheets[key]
    return csv_response(f"{name}-{key}.csv" if len(sheets) > 1 else f"{name}.csv", header, rows)


def export_links(request: HttpRequest, sheets: dict[str, tables.Table] | dict[str, str]) -> list[tuple[str, str, str]]:
    """(href, label, format) for the page's export links: a CSV per table (given as tables or by their
    titles), one workbook of them all."""
    query = request.GET.copy()
    for name in ("format", "table", "after", "before"):
        query.pop(name, None)
    several = len(sheets) > 1
    links = []
    for key, sheet in sheets.items():
        title = sheet if isinstance(sheet, str) else sheet[0]
        query["table"], query["format"] = key, "csv"
        links.append(("?" + query.urlencode(), f"{title} CSV" if several else "CSV", "csv"))
    query.pop("table", None)
    query["format"] = "xlsx"
    links.append(("?" + query.urlencode(), _("Excel（全部表格）") if several else "Excel", "xlsx"))
    return links


def _granularities() -> list[tuple[str, str]]:
    return [("day", _("按日")), ("week", _("按周")), ("month", _("按月"))]


@account_required()
def subscriptions(request: AccountRequest) -> HttpResponseBase:
    """New subscriptions per month per template."""
    months = _months(request)
    series = selectors.subscriptions_by_month(request.account, months)
    by_activity = selectors.subscriptions_by_activity(request.account, months)
    sheets = {
        "months": tables.subscriptions(months, series),
        "activities": tables.subscriptions_by_activity(by_activity),
    }
    if exported := _export(request, sheets, "subscriptions"):
        return exported
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
        "by_activity": by_activity,
        "exports": export_links(request, sheets),
    }
    return render(request, "stats/subscriptions.html", context)


@account_required()
def menu(request: AccountRequest) -> HttpResponseBase:
    """Custom-menu taps per item (across renames), share, trend, month-on-month and year-on-year."""
    account = request.account
    months = _months(request)
    granularity = _granularity(request)
    uses = selectors.menu_use(account, months)
    labels, trend = selectors.menu_trend(account, months, granularity)
    sheets = {"items": tables.menu(months, uses), "trend": tables.menu_trend(labels, trend, uses)}
    if exported := _export(request, sheets, "menu"):
        return exported
    names = {use.item_id: use.name for use in uses}
    share_chart = {"kind": "pie", "series": [{"name": use.name, "value": use.taps} for use in uses]}
    trend_chart = {
        "kind": "line",
        "categories": labels,
        "yName": _("点击次数"),
        "series": [{"name": names[item_id], "data": trend[item_id]} for item_id in names if item_id in trend],
    }
    trend_rows = [(label, [trend[use.item_id][i] for use in uses]) for i, label in enumerate(labels)]
    context = {
        "months": months,
        "granularity": granularity,
        "granularities": _granularities(),
        "uses": uses,
        "total": sum(use.taps for use in uses),
        "last_month_total": sum(use.last_month for use in uses),
        "share_chart": share_chart,
        "trend_chart": trend_chart,
        "trend_rows": trend_rows,
        "exports": export_links(request, sheets),
    }
    return render(request, "stats/menu.html", context)


@account_required()
def followers(request: AccountRequest) -> HttpResponseBase:
    """Follows, unfollows, net and total over time; follows by QR scene."""
    months = _months(request)
    granularity = _granularity(request)
    growth = selectors.follower_growth(request.account, months, granularity)
    sheets = {"growth": tables.followers(growth), "scenes": tables.scenes(growth)}
    if exported := _export(request, sheets, "followers"):
        return exported
    chart = {
        "kind": "bar",
        "categories": growth.labels,
        "yName": _("人数"),
        "yName2": _("粉丝总数"),
        "series": [
            {"name": _("关注"), "data": growth.follows},
            {"name": _("取消关注"), "data": [-n for n in growth.unfollows]},
            {"name": _("粉丝总数"), "data": growth.total, "type": "line", "axis": 1},
        ],
    }
    rows = list(zip(growth.labels, growth.follows, growth.unfollows, growth.net, growth.total, strict=True))
    context = {
        "months": months,
        "granularity": granularity,
        "granularities": _granularities(),
        "growth": growth,
        "chart": chart,
        "rows": rows,
        "any": any(growth.follows) or any(growth.unfollows),
        "sums": (sum(growth.follows), sum(growth.unfollows), sum(growth.net)),
        "exports": export_links(request, sheets),
    }
    return render(request, "stats/followers.html", context)


@account_required()
def sparklines(request: AccountRequest) -> JsonResponse:
    """The notification list's sparklines (drawn by static/stats/sparklines.js)."""
    series = selectors.recent_subscriptions(request.account)
    return JsonResponse(
        {
            "weeks": selectors.SPARK_WEEKS,
            "label": _("最近 %(weeks)d 周每周新增订阅") % {"weeks": selectors.SPARK_WEEKS},
            "series": {str(template_id): counts for template_id, counts in series.items()},
        }
    )


@account_required()
def notifications(request: AccountRequest) -> HttpResponseBase:
    """Every send's funnel side by side (one template's sends, or all), and what became of their
    deliveries day by day."""
    account = request.account
    templates = list(Template.objects.filter(account=account).order_by("title"))
    chosen = as_int(request.GET.get("template"))
    template = next((t for t in templates if t.pk == chosen), None)
    months = _months(request)
    granularity = _granularity(request)
    started = selectors.sends(account, template.pk if template else None, months)
    labels, outcomes = selectors.send_outcomes(account, months, granularity, template.pk if template else None)
    if request.GET.get("format") in ("csv", "xlsx"):  # every send, not only this page's
        sheets = {
            "sends": tables.sends(selectors.funnels(list(started))),
            "outcomes": tables.outcomes(labels, outcomes),
        }
        return _export(request, sheets, "notifications")  # type: ignore[return-value]
    page = keyset_page(request, started, size=20)
    rows = selectors.funnels(list(page.rows))
    chart = {
        "kind": "bar",
        "categories": [f"{f.campaign.name} · {f.campaign.started_at:%m-%d}" for f in rows][::-1],
        "yName": _("人数"),
        "series": [
            {"name": _("目标人数"), "data": [f.target for f in rows][::-1]},
            {"name": _("已发送"), "data": [f.sent for f in rows][::-1]},
            {"name": _("已送达"), "data": [f.delivered for f in rows][::-1]},
            {"name": _("点击人数"), "data": [f.tapped for f in rows][::-1]},
        ],
    }
    names = dict(DeliveryDaily.Outcome.choices)
    outcomes_chart = {
        "kind": "bar",
        "categories": labels,
        "yName": _("人数"),
        "series": [
            # Delivered is WeChat's report on rows already counted as sent: a bar beside the stack, not in it.
            {"name": str(names[o]), "data": counts}
            | {"stack": "delivered" if o == DeliveryDaily.Outcome.DELIVERED else "outcomes"}
            for o, counts in outcomes.items()
        ],
    }
    _title, outcome_header, outcome_rows = tables.outcomes(labels, outcomes)  # the page's table is the export's
    context = {
        "templates": templates,
        "template": template,
        "months": months,
        "granularity": granularity,
        "granularities": _granularities(),
        "page": page,
        "rows": rows,
        "chart": chart,
        "outcome_header": outcome_header,
        "outcomes_chart": outcomes_chart,
        "outcome_rows": outcome_rows,
        "any_outcome": any(any(counts) for counts in outcomes.values()),
        # The exports hold every send, not only this page's: built when asked for, above.
        "exports": export_links(request, {"sends": _("通知效果"), "outcomes": _("每日发送结果")}),
    }
    return render(request, "stats/notifications.html", context)


@account_required()
def notification(request: AccountRequest, pk: int) -> HttpResponseBase:
    """One send — target → sent → delivered → tapped, why the others did not get it, each day's sends,
    reports and taps."""
    campaign = get_object_or_404(Campaign, pk=pk, account=request.account)
    (funnel,) = selectors.funnels([campaign])
    reasons = selectors.failure_reasons(campaign)
    days, by_day = selectors.campaign_days(campaign)
    sheets = {
        "funnel": tables.sends([funnel]),
        "reasons": tables.reasons(reasons),
        "days": tables.campaign_days(days, by_day),
    }
    if exported := _export(request, sheets, f"notification-{campaign.pk}"):
        return exported
    steps = [
        (_("目标人数"), funnel.target),
        (_("已发送"), funnel.sent),
        (_("已送达"), funnel.delivered),
        (_("点击人数"), funnel.tapped),
    ]
    funnel_chart = {
        "kind": "bar",
        "categories": [label for label, _n in steps],
        "yName": _("人数"),
        "series": [{"name": _("人数"), "data": [n for _label, n in steps]}],
    }
    days_chart = {
        "kind": "bar",
        "categories": days,
        "yName": _("人数 / 次数"),
        "series": [
            {"name": _("已发送"), "data": by_day.get("sent", [])},
            {"name": _("已送达"), "data": by_day.get("delivered", [])},
            {"name": _("失败"), "data": by_day.get("failed", [])},
            {"name": _("点击次数"), "data": by_day.get("taps", [])},
        ],
    }
    _title, day_header, day_rows = sheets["days"]
    context = {
        "campaign": campaign,
        "funnel": funnel,
        "steps": steps,
        "reasons": reasons,
        "funnel_chart": funnel_chart,
        "days_chart": days_chart,
        "day_header": day_header,
        "day_rows": day_rows,
        "exports": export_links(request, sheets),
    }
    return render(request, "stats/notification.html", context)


@account_required()
def report(request: AccountRequest) -> HttpResponseBase:
    """The month's report in one click — subscriptions by template and activity, sends and why people did
    not get them, menu use with share and year-on-year, follower growth — printable, or as a workbook."""
    account = request.account
    default = selectors.month_range(default_months=2).first  # last month: the one a report is usually about
    month = selectors.month_range(as_text(request.GET.get("month"), max_length=7) or f"{default:%Y-%m}")
    month = selectors.MonthRange(month.first, month.first)
    series = selectors.subscriptions_by_month(account, month)
    by_activity = selectors.subscriptions_by_activity(account, month)
    funnels = selectors.funnels(selectors.sends_in(account, month))
    reasons = selectors.failure_reasons_of([f.campaign for f in funnels])
    uses = selectors.menu_use(account, month)
    growth = selectors.follower_growth(account, month, "day")
    sections = [
        tables.subscriptions_by_template(series),
        tables.subscriptions_by_activity(by_activity),
        tables.sends(funnels),
        tables.reasons(reasons),
        tables.menu(month, uses),
        tables.followers(growth),
        tables.scenes(growth),
    ]
    if request.GET.get("format") == "xlsx":
        return xlsx_response(f"report-{month.first:%Y-%m}.xlsx", sections)
    summary = {
        "accepts": sum(s.total for s in series),
        "first_time": sum(sum(s.first_time) for s in series),
        "sends": len(funnels),
        "sent": sum(f.sent for f in funnels),
        "menu_taps": sum(u.taps for u in uses),
        "follows": sum(growth.follows),
        "unfollows": sum(growth.unfollows),
        "followers": growth.total[-1] if growth.total else 0,
    }
    context = {"month": month, "sections": sections, "summary": summary}
    return render(request, "stats/report.html", context)
