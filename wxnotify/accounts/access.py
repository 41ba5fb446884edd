"""Who may see and do what on which account (accounts kept apart, roles within one)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import redirect

from wxnotify.accounts.models import Membership, OfficialAccount, Role

SESSION_KEY = "current_account_id"


class AccountRequest(HttpRequest):
    """A request behind `account_required`: a logged-in user, the account they chose and their role on it.
    Only a type: the decorator sets the two attributes on Django's request."""

    user: User
    account: OfficialAccount
    role: Role


# What each role may do; a role not listed for an action may not do it.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "view": frozenset(Role),
    "operate": frozenset({Role.ADMINISTRATOR, Role.OPERATOR}),
    "approve": frozenset({Role.ADMINISTRATOR, Role.APPROVER}),
    "administer": frozenset({Role.ADMINISTRATOR}),
}


def accounts_for(user: User | AbstractBaseUser | AnonymousUser) -> QuerySet[OfficialAccount]:
    if not isinstance(user, User):
        return OfficialAccount.objects.none()
    if user.is_superuser:
        return OfficialAccount.objects.all()
    return OfficialAccount.objects.filter(memberships__user=user)


def role_on(user: User | AbstractBaseUser | AnonymousUser, account: OfficialAccount) -> Role | None:
    if not isinstance(user, User):
        return None
    if user.is_superuser:
        return Role.ADMINISTRATOR
    role = Membership.objects.filter(user=user, account=account).values_list("role", flat=True).first()
    return Role(role) if role else None


def current_account(request: HttpRequest) -> OfficialAccount | None:
    """The account chosen in the switcher, else the user's first one; never one the user may not see."""
    visible = accounts_for(request.user)
    chosen = request.session.get(SESSION_KEY)
    account = visible.filter(pk=chosen).first() if chosen else None
    return account or visible.order_by("name").first()


def account_required(action: str = "view") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """View decorator: sets request.account and request.role, or refuses with 403."""
    allowed = PERMISSIONS[action]

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            account = current_account(request)
            if account is None:
                return redirect("console:no_account")
            role = role_on(request.user, account)
            if role not in allowed:
                raise PermissionDenied
            chosen = cast(AccountRequest, request)
            chosen.account = account
            chosen.role = role
            return view(chosen, *args, **kwargs)

        return wrapper

    return decorator
