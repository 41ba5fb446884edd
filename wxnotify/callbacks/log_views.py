"""The raw inbound log for audit and support: what WeChat pushed, when, and how often."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from wxnotify.accounts.access import AccountRequest, account_required
from wxnotify.callbacks.models import InboundMessage
from wxnotify.callbacks.selectors import refused_last_hour
from wxnotify.console.paging import keyset_page
from wxnotify.console.params import as_text


@account_required()
def inbound_log(request: AccountRequest) -> HttpResponse:
    account = request.account
    rows = InboundMessage.objects.filter(account=account).defer("body")
    kind = as_text(request.GET.get("kind"), max_length=64)
    if kind:
        rows = rows.filter(event=kind) if kind != "text" else rows.filter(msg_type="text")
    openid = as_text(request.GET.get("openid"), max_length=64)
    if openid:
        rows = rows.filter(openid=openid)
    kinds = InboundMessage.objects.filter(account=account).exclude(event="").values_list("event", flat=True).distinct()
    context = {
        "page": keyset_page(request, rows),
        "kind": kind,
        "openid": openid,
        "kinds": sorted(kinds),
        "refused": refused_last_hour(account),
    }
    return render(request, "callbacks/log.html", context)


@account_required()
def inbound_detail(request: AccountRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(InboundMessage, pk=pk, account=request.account)
    return render(request, "callbacks/detail.html", {"row": row})
