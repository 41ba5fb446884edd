"""The console's page for a patient's request about their data (administrators only): find what is held about
one openid, export it as a workbook, or erase it; every request is kept (who, when, why, how many rows)."""

from __future__ import annotations

from django.contrib import messages
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from wxnotify.accounts.access import AccountRequest, account_required
from wxnotify.console.exports import xlsx_response
from wxnotify.console.params import as_text
from wxnotify.privacy import services
from wxnotify.privacy.models import PrivacyAction


@account_required("administer")
def requests(request: AccountRequest) -> HttpResponseBase:
    # Everything goes by POST: an openid in a URL would end up in access logs.
    account = request.account
    openid = as_text(request.POST.get("openid"), max_length=64).strip() if request.method == "POST" else ""
    why = as_text(request.POST.get("why"), max_length=200).strip() if request.method == "POST" else ""
    if openid and ("erase" in request.POST or "export" in request.POST):
        if not why:
            messages.error(request, _("请写明请求的来由（例如：患者来电要求删除，工单号）。"))
        elif "erase" in request.POST and request.POST.get("confirm", "").strip() != openid:
            messages.error(request, _("请再输入一次 OpenID 以确认删除。"))
        elif "erase" in request.POST:
            changed = services.erase(account=account, openid=openid, user=request.user, why=why)
            messages.success(request, _("已删除：%(n)s 行数据已匿名化，统计数字不变。") % {"n": sum(changed.values())})
            return redirect(request.path)
        else:
            services.record_export(account=account, openid=openid, user=request.user, why=why)
            sheets = [(label, header, rows) for label, header, rows in services.export(account, openid)]
            return xlsx_response(f"personal-data-{services.digest(account, openid)}.xlsx", sheets)
    context = {
        "openid": openid,
        "why": why,
        "found": _labelled(services.found(account, openid)) if openid else None,
        "actions": PrivacyAction.objects.filter(account=account).select_related("user")[:50],
    }
    return render(request, "privacy/requests.html", context)


def _labelled(counts: dict[str, int]) -> list[tuple[str, int]]:
    labels = {kind.key: str(kind.label) for kind in services.KINDS}
    return [(labels[key], n) for key, n in counts.items()]
