"""Activities: list, read, create and change them (through the console's form), their patient page, QR code
and poster, and the people who subscribed from them."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from wxnotify.accounts.access import AccountRequest
from wxnotify.api import schemas
from wxnotify.api.auth import require
from wxnotify.api.endpoints.account import ERRORS
from wxnotify.api.endpoints.paging import Before, subscriber_page
from wxnotify.api.errors import ApiError
from wxnotify.api.forms import blank, check
from wxnotify.subscriptions import services as subscriptions
from wxnotify.subscriptions.forms import ActivityForm
from wxnotify.subscriptions.links import page_url, qr_code
from wxnotify.subscriptions.models import Activity, Template
from wxnotify.subscriptions.selectors import subscribers_of

router = Router(tags=["activities"])
FIELDS = ("title", "kind", "starts_at", "ends_at", "place", "live_url", "description")


def _api_url(name: str, activity: Activity) -> str:
    from django.conf import settings

    return settings.WXNOTIFY_PUBLIC_URL + reverse(f"api:{name}", kwargs={"activity_id": activity.pk})


def _summary(a: Activity) -> dict[str, Any]:
    return {
        "id": a.pk,
        "code": a.code,
        "title": a.title,
        "kind": a.kind,
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "place": a.place,
        "page_url": page_url(a),
        "templates": [t.template_id for t in a.templates.all()],
    }


def _detail(a: Activity) -> dict[str, Any]:
    counts = subscriptions.activity_counts(a)
    by_pk = {t.pk: t.template_id for t in a.templates.all()}
    return _summary(a) | {
        "description": a.description,
        "live_url": a.live_url,
        "qr_png": _api_url("activity_qr_png", a),
        "qr_svg": _api_url("activity_qr_svg", a),
        "poster": _api_url("activity_poster", a),
        "subscribers": {
            by_pk[pk]: {"historical": c.historical, "current": c.current} for pk, c in counts.items() if pk in by_pk
        },
    }


def _activity(request: AccountRequest, activity_id: int) -> Activity:
    queryset = Activity.objects.prefetch_related("templates")
    return get_object_or_404(queryset, pk=activity_id, account=request.account)


@router.get("/activities", response={200: list[schemas.ActivityOut]} | ERRORS, summary="The account's activities")
def activities(request: AccountRequest) -> list[dict[str, Any]]:
    require(request, "read")
    rows = Activity.objects.filter(account=request.account).prefetch_related("templates")
    return [_summary(a) for a in rows.order_by("-starts_at", "-pk")]


@router.get(
    "/activities/{activity_id}",
    response={200: schemas.ActivityDetail} | ERRORS,
    summary="One activity: its patient page, QR code and poster, and how many subscribed from it",
)
def activity(request: AccountRequest, activity_id: int) -> dict[str, Any]:
    require(request, "read")
    return _detail(_activity(request, activity_id))


def _save(request: AccountRequest, data: dict[str, Any], instance: Activity | None) -> Activity:
    account = request.account
    if "templates" in data:
        ids = list(data["templates"])
        found = dict(Template.objects.filter(account=account, template_id__in=ids).values_list("template_id", "pk"))
        if missing := [i for i in ids if i not in found]:
            message = _("这个公众号没有模板：%(ids)s") % {"ids": "、".join(missing)}
            raise ApiError(422, "invalid", message, "templates")
        data["templates"] = [found[i] for i in ids]
    form = ActivityForm({name: blank(value) for name, value in data.items()}, instance=instance, account=account)
    check(form)
    return subscriptions.save_activity(form=form, user=request.user)


@router.post(
    "/activities",
    response={201: schemas.ActivityDetail} | ERRORS,
    summary="Create an activity (the console's checks); send an Idempotency-Key to retry safely",
)
def create_activity(request: AccountRequest, payload: schemas.ActivityIn) -> Status[dict[str, Any]]:
    require(request, "write", "operate")
    created = _save(request, payload.dict(), None)
    return Status(201, _detail(_activity(request, created.pk)))


@router.patch(
    "/activities/{activity_id}",
    response={200: schemas.ActivityDetail} | ERRORS,
    summary="Change an activity: only the fields given change",
)
def update_activity(request: AccountRequest, activity_id: int, payload: schemas.ActivityPatch) -> dict[str, Any]:
    require(request, "write", "operate")
    current = _activity(request, activity_id)
    data: dict[str, Any] = {name: getattr(current, name) for name in FIELDS}
    data["templates"] = [t.template_id for t in current.templates.all()]
    # null clears a field that may be empty (the end time); for the others it means "leave as it is".
    data |= {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None or k == "ends_at"}
    _save(request, data, current)
    return _detail(_activity(request, activity_id))


def _image(fmt: str) -> dict[str, Any]:
    media = {"png": "image/png", "svg": "image/svg+xml"}[fmt]
    return {"responses": {"200": {"description": "The QR code", "content": {media: {"schema": {"type": "string"}}}}}}


def _qr(request: AccountRequest, activity_id: int, fmt: str) -> HttpResponse:
    require(request, "read")
    found = _activity(request, activity_id)
    image, content_type = qr_code(found, fmt)
    response = HttpResponse(image, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="activity-{found.code}.{fmt}"'
    return response


@router.get(
    "/activities/{activity_id}/qr.png",
    response=ERRORS,
    url_name="activity_qr_png",
    summary="The patient page's QR code (PNG)",
    openapi_extra=_image("png"),
)
def activity_qr_png(request: AccountRequest, activity_id: int) -> HttpResponse:
    return _qr(request, activity_id, "png")


@router.get(
    "/activities/{activity_id}/qr.svg",
    response=ERRORS,
    url_name="activity_qr_svg",
    summary="The patient page's QR code (SVG)",
    openapi_extra=_image("svg"),
)
def activity_qr_svg(request: AccountRequest, activity_id: int) -> HttpResponse:
    return _qr(request, activity_id, "svg")


@router.get(
    "/activities/{activity_id}/poster",
    response=ERRORS,
    url_name="activity_poster",
    summary="A printable poster (HTML): title, time, place and the QR code",
    openapi_extra={
        "responses": {"200": {"description": "The poster", "content": {"text/html": {"schema": {"type": "string"}}}}}
    },
)
def activity_poster(request: AccountRequest, activity_id: int) -> HttpResponse:
    require(request, "read")
    found = _activity(request, activity_id)
    html = render_to_string("subscriptions/poster.html", {"activity": found, "page_url": page_url(found)}, request)
    return HttpResponse(html, content_type="text/html; charset=utf-8")


@router.get(
    "/activities/{activity_id}/subscribers",
    response={200: schemas.SubscriberPage} | ERRORS,
    summary="The people who subscribed from this activity, newest first (keyset paged)",
)
def activity_subscribers(request: AccountRequest, activity_id: int, paging: Query[Before]) -> dict[str, Any]:
    require(request, "read")
    return subscriber_page(subscribers_of(_activity(request, activity_id)), paging)
