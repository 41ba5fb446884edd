"""The statistics pages' figures (rolled up each minute, Beijing time), as JSON."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from wxnotify.accounts.access import AccountRequest
from wxnotify.api import schemas
from wxnotify.api.auth import require
from wxnotify.api.endpoints.account import ERRORS
from wxnotify.campaigns.models import Campaign
from wxnotify.stats import selectors as stats

router = Router(tags=["statistics"])


class Months(Schema):
    first: str = Field("", pattern=r"^(\d{4}-\d{2})?$", description="YYYY-MM; by default 13 months to this one")
    last: str = Field("", pattern=r"^(\d{4}-\d{2})?$", description="YYYY-MM; by default this month")


@router.get(
    "/statistics/subscriptions",
    response={200: list[schemas.TemplateMonths]} | ERRORS,
    summary="New subscriptions per month per template (and first-time subscribers), most subscribed first",
)
def subscriptions(request: AccountRequest, months: Query[Months]) -> list[dict[str, Any]]:
    require(request, "read")
    span = stats.month_range(months.first, months.last)
    labels = [f"{m:%Y-%m}" for m in span.months]
    return [
        {
            "template_id": s.template.template_id,
            "title": s.template.title,
            "months": labels,
            "accepts": s.accepts,
            "first_time": s.first_time,
            "total": s.total,
        }
        for s in stats.subscriptions_by_month(request.account, span)
    ]


@router.get(
    "/statistics/menu",
    response={200: list[schemas.MenuItem]} | ERRORS,
    summary="Custom-menu taps per item: share, and the last month against the one before and a year before",
)
def menu(request: AccountRequest, months: Query[Months]) -> list[dict[str, Any]]:
    require(request, "read")
    span = stats.month_range(months.first, months.last)
    return [
        {
            "item": u.item_id,
            "name": u.name,
            "former_names": u.former_names,
            "taps": u.taps,
            "people": u.people,
            "share": u.share,
            "last_month": u.last_month,
            "month_on_month": u.mom,
            "year_on_year": u.yoy,
        }
        for u in stats.menu_use(request.account, span)
    ]


@router.get(
    "/campaigns/{campaign_id}/statistics",
    response={200: schemas.Funnel} | ERRORS,
    summary="One send from its audience to the taps: sent, delivered, failed with reasons, by day",
)
def funnel(request: AccountRequest, campaign_id: int) -> dict[str, Any]:
    require(request, "read")
    campaign = get_object_or_404(Campaign, pk=campaign_id, account=request.account)
    (f,) = stats.funnels([campaign])
    days, by_day = stats.campaign_days(campaign)
    return {
        "campaign": campaign.pk,
        "target": f.target,
        "sent": f.sent,
        "delivered": f.delivered,
        "tapped": f.tapped,
        "taps": f.taps,
        "failed": f.failed,
        "skipped": f.skipped,
        "unknown": f.unknown,
        "tap_rate": f.tap_rate,
        "reasons": [
            {"errcode": code, "reason": reason, "action": action, "count": n}
            for code, reason, action, n in stats.failure_reasons(campaign)
        ],
        "days": days,
        "by_day": by_day,
    }
