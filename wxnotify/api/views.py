"""The console's page for API tokens: make one (shown once), see them (last used, by whom), revoke one."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from wxnotify.accounts.access import account_required
from wxnotify.accounts.models import OfficialAccount
from wxnotify.api import tokens
from wxnotify.api.models import ApiToken, Scope


@account_required("administer")
def token_list(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    if request.method == "POST":
        if revoke := request.POST.get("revoke"):
            token = get_object_or_404(ApiToken, pk=int(revoke) if revoke.isdigit() else 0, account=account)
            tokens.revoke(token=token, user=request.user)
            messages.success(request, _("令牌「%(name)s」已停用，使用它的调用会被拒绝。") % {"name": token.name})
            return redirect("api_tokens:list")
        once = request.POST.get("once", "")
        used = request.session.get(USED, [])
        if not once or once in used:  # the browser sent the form again (a reload): one token per form
            messages.info(request, _("这个令牌已经创建过了；令牌只在创建时显示一次。"))
            return redirect("api_tokens:list")
        request.session[USED] = [*used, once][-20:]
        name = request.POST.get("name", "").strip()
        if not name:
            messages.error(request, _("请给令牌起个名字（例如对接的系统）。"))
            return redirect("api_tokens:list")
        token, text = tokens.issue(account=account, name=name, scopes=request.POST.getlist("scopes"), user=request.user)
        # Shown once, in this answer only: never stored, never in a message queue or a log.
        return render(request, "api/tokens.html", _context(account) | {"new_token": text, "new": token})
    return render(request, "api/tokens.html", _context(account))


def _context(account: OfficialAccount) -> dict[str, object]:
    return {
        "tokens": ApiToken.objects.filter(account=account).select_related("created_by", "revoked_by"),
        "scopes": Scope.choices,
        "once": secrets.token_hex(8),  # a form makes one token, however often it is sent
    }


USED = "api_token_forms_used"
