"""Login lockout: three limits over django-axes' record of failed logins, and the page that says when.

django-axes counts failures per (username, IP) — five wrong passwords for bob from one PC lock that pair.
Password spraying tries a few passwords on many usernames from one address, or one username from many
addresses, and never trips that. So two more limits over the same records, within the same cool-off:
failures from one IP across every username, and failures for one username across every IP. The
lockout page tells the person when they may try again (Beijing time), computed by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address, get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


@dataclass(frozen=True)
class Lockout:
    reason: str  # "pair", "ip" or "username": which limit was reached
    until: datetime


def _limits() -> dict[str, int]:
    return {
        "pair": settings.AXES_FAILURE_LIMIT,
        "ip": settings.WXNOTIFY_LOGIN_IP_LIMIT,
        "username": settings.WXNOTIFY_LOGIN_USERNAME_LIMIT,
    }


def lockout_for(*, ip: str | None, username: str | None) -> Lockout | None:
    """The lockout that applies to a login from `ip` as `username` now, the longest if several do."""
    cool_off = get_cool_off() or timedelta(minutes=15)
    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off)
    scopes = {
        "pair": {"ip_address": ip, "username": username} if ip and username else None,
        "ip": {"ip_address": ip} if ip else None,
        "username": {"username": username} if username else None,
    }
    found: Lockout | None = None
    for reason, limit in _limits().items():
        scope = scopes[reason]
        if scope is None or limit <= 0:
            continue
        totals = recent.filter(**scope).aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        if (totals["failures"] or 0) >= limit and totals["last"] is not None:
            until = totals["last"] + cool_off
            if found is None or until > found.until:
                found = Lockout(reason, until)
    return found


def _lockout_of(request: HttpRequest, credentials: dict[str, Any] | None) -> Lockout | None:
    return lockout_for(ip=get_client_ip_address(request), username=get_client_username(request, credentials))


class SprayAwareHandler(AxesDatabaseHandler):
    """axes' database handler, locking on any of the three limits instead of the pair's alone."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        return _lockout_of(request, credentials) is not None


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the lockout page, with when to try again."""
    lockout = _lockout_of(request, credentials)
    context = {
        "until": timezone.localtime(lockout.until) if lockout else None,
        "reason": lockout.reason if lockout else "pair",
    }
    return render(request, "console/locked_out.html", context, status=429)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind WXNOTIFY_PROXY_COUNT reverse proxies the address the
    outermost of them saw (X-Forwarded-For is appended to by each proxy; what lies left of that is the
    client's own claim and is not trusted)."""
    count = settings.WXNOTIFY_PROXY_COUNT
    if count <= 0:
        return request.META.get("REMOTE_ADDR")
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    if len(hops) < count:
        return request.META.get("REMOTE_ADDR")
    return hops[-count]
