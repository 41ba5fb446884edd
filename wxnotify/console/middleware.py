"""Console middleware. htmx-aware login redirect: a poll from a page whose session expired reloads the whole page
onto the login form instead of swapping the login form into a dashboard tile."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import resolve_url
from django.utils import translation
from django.utils.translation import trans_real


class HtmxLoginRedirectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_htmx = request.headers.get("HX-Request") == "true"
        login = resolve_url(settings.LOGIN_URL)
        if is_htmx and response.status_code == 302 and response.get("Location", "").startswith(login):
            redirect = HttpResponse(status=204)
            redirect["HX-Redirect"] = response["Location"]
            return redirect
        return response


class LanguageMiddleware:
    """Chinese unless the user chose English with the language switch (a cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language, and many hospital PCs run
    English-language browsers; the product speaks zh-Hans by default."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if request.path.startswith("/api/"):  # an integration has no cookie: it says so in Accept-Language
            chosen = self._accepted(request.headers.get("Accept-Language", ""))
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response

    def _accepted(self, header: str) -> str:
        """The first of our languages the header names ("en-US,en;q=0.9" → en; "zh-CN" → zh-hans)."""
        for code, _quality in trans_real.parse_accept_lang_header(header):
            base = code.lower().split("-")[0]
            if base == "zh":
                return "zh-hans"
            if base in self.supported:
                return base
        return ""


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every page and export this app renders: console pages and CSV files hold
    openids and patients' data, and a shared hospital PC's browser cache or a proxy must not keep them.
    Static files (served by WhiteNoise, further in) keep their own caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        static = request.path.startswith(str(settings.STATIC_URL))
        if not static and "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response


class RefuseControlCharactersMiddleware:
    """400 for a path or query string carrying a NUL or another control character.

    No link of ours has one, and PostgreSQL refuses a NUL in any text it is given (a 500 wherever such
    a value reached a query: a filter, a search box, an AppID in the callback URL)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        values = [request.path, *(v for _, values in request.GET.lists() for v in [_, *values])]
        if any(_CONTROL.search(v) for v in values):
            if request.path.startswith("/api/"):  # an integration reads errors as JSON {code, message, field}
                body = {"code": "bad_request", "message": "URL 中有控制字符。", "field": None}
                return JsonResponse(body, status=400, json_dumps_params={"ensure_ascii": False})
            return HttpResponseBadRequest("control characters in the URL", content_type="text/plain; charset=utf-8")
        return self.get_response(request)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
