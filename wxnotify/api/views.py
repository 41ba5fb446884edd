"""The console's pages for integrations: API tokens (made, shown once, listed with their last use and maker,
revoked), every API call, and the outgoing webhooks with their delivery log."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import messages
from django.core.validators import URLValidator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wxnotify.accounts.access import AccountRequest, account_required
from wxnotify.accounts.models import OfficialAccount
from wxnotify.api import tokens, webhooks
from wxnotify.api.models import ApiCall, ApiToken, Scope, Webhook, WebhookDelivery
from wxnotify.console.forms import LabelsAbove
from wxnotify.console.paging import keyset_page
from wxnotify.console.params import as_int


@account_required("administer")
def token_list(request: AccountRequest) -> HttpResponse:
    account = request.account
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
        "form": TokenForm(),
        "once": secrets.token_hex(8),  # a form makes one token, however often it is sent
    }


USED = "api_token_forms_used"


@account_required("administer")
def calls(request: AccountRequest) -> HttpResponse:
    """Every API call of the account, newest first: which token, what, when, the answer."""
    account = request.account
    rows = ApiCall.objects.filter(account=account).select_related("token")
    token = as_int(request.GET.get("token"))
    if token is not None:
        rows = rows.filter(token_id=token)
    page = keyset_page(request, rows)
    context = {"page": page, "calls": page.rows, "tokens": ApiToken.objects.filter(account=account), "token": token}
    return render(request, "api/calls.html", context)


@account_required("administer")
def webhook_list(request: AccountRequest) -> HttpResponse:
    account = request.account
    if request.method == "POST":
        if disable := as_int(request.POST.get("disable")):
            hook = get_object_or_404(Webhook, pk=disable, account=account)
            webhooks.disable(hook=hook)
            messages.success(request, _("接收地址已停用：不再向它发送事件。"))
            return redirect("api_tokens:webhooks")
        if again := as_int(request.POST.get("redeliver")):
            delivery = get_object_or_404(WebhookDelivery, pk=again, webhook__account=account)
            webhooks.redeliver(delivery=delivery)
            messages.success(request, _("已重新排队发送（事件编号不变）。"))
            return redirect("api_tokens:webhooks")
        form = WebhookForm(request.POST)
        if form.is_valid():
            hook, secret = webhooks.add(
                account=account, url=form.cleaned_data["url"], events=form.cleaned_data["events"], user=request.user
            )
            # The secret is shown in this answer only (like a token); it is stored encrypted to sign with.
            return render(
                request, "api/webhooks.html", _hooks(account, WebhookForm()) | {"new": hook, "secret": secret}
            )
        return render(request, "api/webhooks.html", _hooks(account, form))
    return render(request, "api/webhooks.html", _hooks(account, WebhookForm()))


def _hooks(account: OfficialAccount, form: forms.Form) -> dict[str, object]:
    deliveries = WebhookDelivery.objects.filter(webhook__account=account).select_related("webhook")
    return {
        "hooks": Webhook.objects.filter(account=account),
        "deliveries": deliveries[:50],
        "form": form,
        "events": dict(Webhook.Event.choices),
    }


class TokenForm(LabelsAbove, forms.Form):
    name = forms.CharField(
        label=gettext_lazy("名称"),
        max_length=50,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("例如：预约系统")}),
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("权限"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=["read"]
    )


class WebhookForm(LabelsAbove, forms.Form):
    url = forms.URLField(
        label=gettext_lazy("接收地址"),
        max_length=500,
        assume_scheme="https",
        validators=[URLValidator(schemes=["https", "http"])],  # not ftp, which URLField allows
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("事件"),
        choices=Webhook.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(Webhook.Event.values),
    )
