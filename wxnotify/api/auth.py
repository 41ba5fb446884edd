"""Who an API call is: its token, the account it belongs to, and the person it acts as — with that person's
role on the account now (a revoked membership disables their tokens) and the token's scopes."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from wxnotify.accounts.access import PERMISSIONS, AccountRequest, role_on
from wxnotify.api import tokens
from wxnotify.api.errors import ApiError
from wxnotify.api.models import ApiToken


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        # The edge (edge.py) has already checked it once for the rate limit: not a second query.
        found = getattr(request, "api_token_found", None) or tokens.check(token)
        if found is None:
            return None
        role = role_on(found.created_by, found.account)
        if role is None:  # the person who made it no longer works on this account
            return None
        # From here on the call is an AccountRequest, as a console view behind account_required is.
        known = cast(AccountRequest, request)
        known.account = found.account
        known.user = found.created_by
        known.role = role
        return found


def require(request: AccountRequest, scope: str, permission: str | None = None) -> None:
    """The call's token has `scope`, and its person the console `permission` (operate, approve, …)."""
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    if scope not in token.scopes:
        raise ApiError(403, "scope", _("这个令牌没有「%(scope)s」权限。") % {"scope": scope})
    role: Any = request.role
    if permission is not None and role not in PERMISSIONS[permission]:
        raise ApiError(403, "forbidden", _("令牌所属的人在这个公众号的角色不能做这件事。"))
