"""Template context every console page gets: the accounts the user may switch between."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from wxnotify.accounts.access import accounts_for, current_account, role_on


def console(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    account = getattr(request, "account", None) or current_account(request)
    return {
        "current_account": account,
        "current_role": role_on(request.user, account) if account else None,
        "switchable_accounts": list(accounts_for(request.user).only("id", "name", "appid")),
    }
