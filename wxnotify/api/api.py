"""The JSON API (`/api/v1/`): django-ninja over the same services and selectors as the console. Its OpenAPI
document is `/api/v1/openapi.json`, its readable docs `/api/v1/docs` (Swagger UI from our own static files)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from wxnotify.api import errors, schemas
from wxnotify.api.auth import TokenAuth, require
from wxnotify.subscriptions import services as subscriptions
from wxnotify.subscriptions.models import Activity, Template


class Readable(JSONRenderer):
    """UTF-8 as it is: an integrator reading "没有找到。" in a log should not see escapes."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    renderer=Readable(),
    title="wxnotify API",
    version="1",
    description=(
        "Subscription notifications for WeChat Official Accounts: activities, templates, subscribers and sends. "
        "Authenticate with `Authorization: Bearer <token>` (tokens are made in the console, per account, with "
        "scopes read / write / send). Errors are `{code, message, field}`; messages follow Accept-Language."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
)
errors.install(api)


@api.get("/me", response={200: schemas.Me, 401: schemas.Error}, summary="The token's account, scopes and person")
def me(request: HttpRequest) -> dict[str, object]:
    token = request.auth  # type: ignore[attr-defined]
    return {
        "account": token.account.name,
        "appid": token.account.appid,
        "token": token.prefix,
        "scopes": token.scopes,
        "acts_as": token.created_by.get_username(),
        "role": str(request.role),  # type: ignore[attr-defined]
    }


@api.get(
    "/templates",
    response={200: list[schemas.TemplateOut], 401: schemas.Error, 403: schemas.Error},
    summary="The account's notification templates with their subscriber counts",
)
def templates(request: HttpRequest) -> list[dict[str, object]]:
    require(request, "read")
    account = request.account  # type: ignore[attr-defined]
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


@api.get(
    "/activities",
    response={200: list[schemas.ActivityOut], 401: schemas.Error, 403: schemas.Error},
    summary="The account's activities with their patient-page URL",
)
def activities(request: HttpRequest) -> list[dict[str, object]]:
    require(request, "read")
    account = request.account  # type: ignore[attr-defined]
    rows = Activity.objects.filter(account=account).prefetch_related("templates").order_by("-starts_at", "-pk")
    return [
        {
            "id": a.pk,
            "code": a.code,
            "title": a.title,
            "kind": a.kind,
            "starts_at": a.starts_at,
            "ends_at": a.ends_at,
            "place": a.place,
            "page_url": settings.WXNOTIFY_PUBLIC_URL + reverse("subscribe:page", args=[a.code]),
            "templates": [t.template_id for t in a.templates.all()],
        }
        for a in rows
    ]
