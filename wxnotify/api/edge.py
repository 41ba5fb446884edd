"""What every API call passes through before django-ninja answers it: its token is found once, held to its
rate limit, a POST with an `Idempotency-Key` is answered once, what it does in the campaigns' audit log names
the token, and the call itself is recorded (`ApiCall`). Wrapped around each URL of the API (urls.py)."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from wxnotify.api import tokens
from wxnotify.api.errors import body
from wxnotify.api.models import ApiCall, ApiToken, IdempotentRequest
from wxnotify.campaigns import lifecycle

View = Callable[..., HttpResponse]
REPLAYED = "Idempotent-Replayed"
# How long a second identical request waits for the first to be answered before it is told to retry.
WAIT_FOR_FIRST = 10.0
# A key whose first request never finished (its process died): after this, a retry may run it again.
ABANDONED = timedelta(minutes=5)


def guarded(view: View) -> View:
    @functools.wraps(view)  # keeps csrf_exempt and login_required = False
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        started = time.monotonic()
        token = _bearer(request)
        if token is None:  # no token, or not a valid one: django-ninja answers (401, or the public docs)
            return view(request, *args, **kwargs)
        request.api_token_found = token  # type: ignore[attr-defined]  # TokenAuth takes it from here
        key = request.headers.get("Idempotency-Key", "") if request.method == "POST" else ""
        replayed = False
        response: HttpResponse
        if wait := _over_limit(token):
            response = _error(429, "rate_limited", _("调用太频繁：请在 %(s)s 秒后重试。") % {"s": wait})
            response["Retry-After"] = str(wait)
        elif _has_nul(request):
            # No text of ours holds one, and PostgreSQL refuses it in any query (a 500 wherever it reached one).
            response = _error(422, "invalid", _("请求正文中有空字符（NUL）。"))
        elif key:
            response = _once(request, token, key, lambda: _acting(token, view, request, *args, **kwargs))
            replayed = response.has_header(REPLAYED)
        else:
            response = _acting(token, view, request, *args, **kwargs)
        ApiCall.objects.create(
            account_id=token.account_id,
            token=token,
            method=request.method or "",
            path=request.get_full_path()[:255],
            status=response.status_code,
            idempotency_key=key[:255],
            replayed=replayed,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return response

    return wrapper


def _has_nul(request: HttpRequest) -> bool:
    body = request.body if request.method in ("POST", "PATCH", "PUT") else b""
    return b"\x00" in body or b"\\u0000" in body.lower()


def _bearer(request: HttpRequest) -> ApiToken | None:
    scheme, _sep, text = request.headers.get("Authorization", "").partition(" ")
    return tokens.check(text.strip()) if scheme.lower() == "bearer" and text.strip() else None


def _error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse(body(code, message, field), status=status, json_dumps_params={"ensure_ascii": False})


def _acting(token: ApiToken, view: View, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The view, with what it does to a campaign audited as done through this token."""
    reset = lifecycle.through.set({"name": token.name, "prefix": token.prefix})
    try:
        return view(request, *args, **kwargs)
    finally:
        lifecycle.through.reset(reset)


def _over_limit(token: ApiToken) -> int | None:
    """Seconds until the token may call again, or None. A fixed window per token in the cache (Redis in
    production, shared by every process; without Redis each process counts on its own)."""
    limit, window = settings.WXNOTIFY_API_RATE
    now = time.time()
    key = f"api-rate:{token.prefix}:{int(now // window)}"
    cache.add(key, 0, timeout=window + 5)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 5)
        used = 1
    return int(window - now % window) + 1 if used > limit else None


def _fingerprint(request: HttpRequest) -> str:
    return hashlib.sha256(
        b"\n".join([(request.method or "").encode(), request.path.encode(), request.body])
    ).hexdigest()


def _once(request: HttpRequest, token: ApiToken, key: str, answer: Callable[[], HttpResponse]) -> HttpResponse:
    """Answer a keyed POST once: the first request claims the key (a committed row) and stores its answer;
    a retry gets that answer back; an identical request still in flight waits for it."""
    if len(key) > 255:
        return _error(422, "invalid", _("Idempotency-Key 最长 255 个字符。"), "Idempotency-Key")
    fingerprint = _fingerprint(request)
    deadline = time.monotonic() + WAIT_FOR_FIRST
    while True:
        try:
            with transaction.atomic():
                claim = IdempotentRequest.objects.create(token=token, key=key, fingerprint=fingerprint)
        except IntegrityError:
            pass
        else:
            return _answer_and_keep(claim, answer)
        first = IdempotentRequest.objects.filter(token=token, key=key).first()
        if first is None:  # the first one failed and let go of the key: this one runs it
            continue
        if first.fingerprint != fingerprint:
            message = _("这个 Idempotency-Key 已用于另一个请求：每个请求请用新的 key。")
            return _error(422, "idempotency_key_reused", message, "Idempotency-Key")
        if first.status is not None:
            response = HttpResponse(bytes(first.body), status=first.status, content_type=first.content_type)
            response[REPLAYED] = "true"
            return response
        if first.created_at < timezone.now() - ABANDONED:  # its process died: take the key over
            IdempotentRequest.objects.filter(pk=first.pk, status__isnull=True).delete()
            continue
        if time.monotonic() > deadline:
            response = _error(409, "idempotency_in_progress", _("同一个请求正在处理中，请稍后用同一个 key 重试。"))
            response["Retry-After"] = "1"
            return response
        time.sleep(0.1)


def _answer_and_keep(claim: IdempotentRequest, answer: Callable[[], HttpResponse]) -> HttpResponse:
    try:
        response = answer()
    except BaseException:
        claim.delete()  # nothing was answered (the work's transaction rolled back): a retry may run it
        raise
    if response.status_code >= 500 or response.status_code == 429 or response.streaming:
        claim.delete()
        return response
    claim.status, claim.body = response.status_code, response.content
    claim.content_type = response.get("Content-Type", "application/json")
    claim.save(update_fields=["status", "body", "content_type"])
    return response
