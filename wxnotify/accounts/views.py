"""Connecting and editing official accounts (administrators only)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from wxnotify.accounts.access import SESSION_KEY, accounts_for, role_on
from wxnotify.accounts.forms import AccountForm
from wxnotify.accounts.models import Membership, Role

log = logging.getLogger(__name__)


def account_list(request: HttpRequest) -> HttpResponse:
    accounts = [
        (a, role_on(request.user, a), settings.WXNOTIFY_PUBLIC_URL + reverse("callbacks:callback", args=[a.appid]))
        for a in accounts_for(request.user)
    ]
    return render(request, "accounts/list.html", {"accounts": accounts})


def account_create(request: HttpRequest) -> HttpResponse:
    if not request.user.is_superuser:
        raise PermissionDenied
    form = AccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account = form.save()
        Membership.objects.get_or_create(user=request.user, account=account, defaults={"role": Role.ADMINISTRATOR})
        request.session[SESSION_KEY] = account.pk
        log.info("account %s connected by %s", account.appid, request.user)
        messages.success(request, _("公众号已接入。密钥已加密保存，不会再次显示。"))
        return redirect("accounts:list")
    return render(request, "accounts/form.html", {"form": form, "creating": True})


def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(accounts_for(request.user), pk=pk)
    if role_on(request.user, account) != Role.ADMINISTRATOR:
        raise PermissionDenied
    form = AccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        form.save()
        log.info("account %s edited by %s (changed: %s)", account.appid, request.user, ", ".join(form.changed_data))
        messages.success(request, _("已保存。"))
        return redirect("accounts:list")
    return render(request, "accounts/form.html", {"form": form, "account": account, "creating": False})
