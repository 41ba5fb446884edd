"""Every API error is JSON `{"code", "message", "field"}`: a stable code for programs, a message in the
caller's language (zh-Hans unless Accept-Language asks for English), the field it concerns (or null)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from wxnotify.campaigns.lifecycle import CampaignError


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, *, errors: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.errors = status, code, message, field, errors


def body(code: str, message: str, field: str | None = None, errors: list[Any] | None = None) -> dict[str, Any]:
    """`errors`: every problem of a rejected form ({field, message}), the first of which is `message`."""
    return {"code": code, "message": message, "field": field} | ({"errors": errors} if errors else {})


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
        return api.create_response(
            request, body(error.code, error.message, error.field, error.errors), status=error.status
        )

    @api.exception_handler(AuthenticationError)
    def unauthorized(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
        message = _("缺少有效的 API 令牌：请在请求头 Authorization 中提供 Bearer 令牌。")
        response = api.create_response(request, body("unauthorized", message), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="wxnotify"'
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
        first = error.errors[0] if error.errors else {}
        location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "payload")]
        message = _("参数不正确：%(detail)s") % {"detail": first.get("msg", "")}
        return api.create_response(request, body("invalid", message, ".".join(location) or None), status=422)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
        # django-ninja's own refusals (a body that is not JSON, …) in our shape too.
        if error.status_code == 400:
            message = _("请求正文不是有效的 JSON。")
            return api.create_response(request, body("bad_request", message), status=400)
        return api.create_response(request, body("error", str(error)), status=error.status_code)

    @api.exception_handler(PermissionDenied)
    def forbidden(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
        message = _("令牌所属的人在这个公众号的角色不能做这件事。")
        return api.create_response(request, body("forbidden", message), status=403)

    @api.exception_handler(CampaignError)
    def conflict(request: HttpRequest, error: CampaignError) -> HttpResponse:
        # The lifecycle's refusal, in the words the console shows: the state does not allow it now.
        return api.create_response(request, body("state", str(error)), status=409)

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, error: Http404) -> HttpResponse:
        return api.create_response(request, body("not_found", _("没有找到。")), status=404)
