"""Who the token is, and the account's templates with their subscribers."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Query, Router

from wxnotify.accounts.access import AccountRequest
from wxnotify.api import schemas
from wxnotify.api.auth import require
from wxnotify.api.endpoints.paging import Before, subscriber_page
from wxnotify.subscriptions import services as subscriptions
from wxnotify.subscriptions.models import Subscription, Template

router = Router(tags=["account"])
# 400: a URL with control characters (refused before routing, console/middleware.py).
ERRORS = {
    400: schemas.Error,
    401: schemas.Error,
    403: schemas.Error,
    404: schemas.Error,
    422: schemas.Error,
    429: schemas.Error,
}


@router.get("/me", response={200: schemas.Me} | ERRORS, summary="The token's account, scopes and person")
def me(request: AccountRequest) -> dict[str, object]:
    token = request.auth  # type: ignore[attr-defined]
    return {
        "account": token.account.name,
        "appid": token.account.appid,
        "token": token.prefix,
        "scopes": token.scopes,
        "acts_as": token.created_by.get_username(),
        "role": str(request.role),
    }


@router.get(
    "/templates",
    response={200: list[schemas.TemplateOut]} | ERRORS,
    summary="The account's notification templates with their subscriber counts",
)
def templates(request: AccountRequest) -> list[dict[str, object]]:
    require(request, "read")
    account = request.account
    counts = subscriptions.template_counts(account)
    out = []
    for t in Template.objects.filter(account=account).order_by("title", "pk"):
        c = counts.get(t.pk, subscriptions.Counts(0, 0))
        out.append(
            {
                "id": t.pk,
                "template_id": t.template_id,
                "title": t.title,
                "kind": Template.Kind(t.kind).name.lower(),
                "status": t.status,
                "keywords": [{"key": k["key"], "name": k["name"], "rule": k.get("rule", "")} for k in t.keywords],
                "subscribers": {"historical": c.historical, "current": c.current},
            }
        )
    return out


@router.get(
    "/templates/{template_id}/subscribers",
    response={200: schemas.SubscriberPage} | ERRORS,
    summary="A template's subscribers, newest first (keyset paged; `current` for those who can receive now)",
)
def template_subscribers(request: AccountRequest, template_id: str, paging: Query[Before]) -> dict[str, object]:
    require(request, "read")
    template = get_object_or_404(Template, account=request.account, template_id=template_id)
    rows = Subscription.objects.filter(template=template)
    return subscriber_page(rows, paging)
