"""Console pages for notifications: list, compose with a live card, detail with pre-flight and live
progress and the actions, the per-recipient log with reasons and CSV export, and a template's history."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from wechat.errors import WeChatError
from wxnotify.accounts.access import PERMISSIONS, AccountRequest, account_required
from wxnotify.accounts.wechat import account_api
from wxnotify.campaigns import lifecycle, selectors, services, tally
from wxnotify.campaigns.forms import CampaignForm
from wxnotify.campaigns.models import Action, AuditEntry, Campaign, Delivery, Previewer
from wxnotify.campaigns.reasons import explain
from wxnotify.console.exports import csv_response, xlsx_response
from wxnotify.console.paging import keyset_page
from wxnotify.console.params import as_int, as_text
from wxnotify.subscriptions.models import Activity, Template

log = logging.getLogger(__name__)


@account_required()
def campaign_list(request: AccountRequest) -> HttpResponse:
    account = request.account
    page = keyset_page(request, selectors.listed(account))
    return render(request, "campaigns/list.html", {"campaigns": selectors.with_counts(page.rows), "page": page})


@account_required("operate")
def campaign_compose(request: AccountRequest, pk: int | None = None) -> HttpResponse:
    account = request.account
    campaign = get_object_or_404(Campaign, pk=pk, account=account) if pk else None
    if campaign and not lifecycle.allowed(campaign, Action.EDIT):
        messages.error(request, str(lifecycle.TRANSITIONS[Action.EDIT].refusal))
        return redirect("campaigns:detail", pk=campaign.pk)
    # Choosing a template reloads the page with what was already filled in (console.js), and an activity's
    # "notify its subscribers" link arrives with its activity: initial values only, checked when saved.
    initial: dict[str, Any] = {name: request.GET[name] for name in CampaignForm.CARRIED if request.GET.get(name)}
    if "activity" in initial and "template" not in initial:
        chosen = Activity.objects.filter(account=account, pk=as_int(initial["activity"]) or 0).first()
        first = chosen.templates.order_by("pk").first() if chosen else None
        if first is not None:
            initial |= {"template": first.pk, "audience": Campaign.Audience.ACTIVITY}
    data = request.POST if request.method == "POST" and "save" in request.POST else None
    form = CampaignForm(
        data or (request.POST if request.method == "POST" else None),
        instance=campaign,
        account=account,
        initial=initial,
    )
    if request.method == "POST" and "save" in request.POST and form.is_valid():
        try:
            campaign = services.save(campaign=form.save(commit=False), user=request.user)
        except services.CampaignError as error:  # its state changed since the form was opened
            messages.error(request, str(error))
            return redirect("campaigns:detail", pk=form.instance.pk)
        messages.success(request, _("通知已保存。"))
        return redirect("campaigns:detail", pk=campaign.pk)
    context = {
        "form": form,
        "campaign": campaign,
        "card": form.field_values() if form.is_bound else (campaign.data if campaign else {}),
        "submitted": data is not None,  # a save was tried: every field's problem shows, typed in or not
    }
    if request.headers.get("HX-Request") and request.method == "POST":
        form.is_valid()  # each field's problem, swapped in next to it (the page shows only those typed in)
        return render(request, "campaigns/compose.html#feedback", context | {"oob": True})
    return render(request, "campaigns/compose.html", context)


@account_required()
def audit_content(request: AccountRequest, pk: int) -> HttpResponse:
    """The content an audit entry wrote or approved, as the patient's card shows it."""
    entry = get_object_or_404(AuditEntry.objects.select_related("campaign", "user"), pk=pk, account=request.account)
    snapshot = entry.content
    if snapshot is None:
        raise Http404
    template = Template.objects.filter(account=entry.account_id, template_id=snapshot.get("template_id")).first()
    names = {k["key"]: k["name"] for k in (template.keywords if template else [])}
    rows = [(names.get(key, key), value) for key, value in (snapshot.get("data") or {}).items()]
    current = entry.campaign.snapshot() if entry.campaign else None
    context = {
        "entry": entry,
        "snapshot": snapshot,
        "template": template,
        "rows": rows,
        "is_current": current == snapshot,
    }
    return render(request, "campaigns/audit_content.html", context)


def _quota(campaign: Campaign) -> dict[str, int] | None:
    account = campaign.account  # loaded here: the coroutine below must not touch the ORM lazily

    async def fetch() -> dict[str, int]:
        async with account_api(account) as api:
            data = await api.client.get_quota(cgi_path="/cgi-bin/message/subscribe/bizsend")
            return dict(data.get("quota") or {})

    try:
        return async_to_sync(fetch)()
    except WeChatError as error:
        log.info("quota/get failed for %s: %s", account.appid, error)
        return None


@account_required()
def campaign_detail(request: AccountRequest, pk: int) -> HttpResponse:
    account = request.account
    campaign = get_object_or_404(
        Campaign.objects.select_related("template", "activity", "account", "source_campaign"), pk=pk, account=account
    )
    progress = selectors.progress(campaign)
    context: dict[str, Any] = {
        "campaign": campaign,
        "progress": progress,
        "live": selectors.live(campaign, progress, timezone.now()),
    }
    if progress["failed"]:
        by_class = selectors.failed_by_class(campaign)
        context["failed_by_class"] = [(FAILURE_CLASSES.get(k, k), n) for k, n in sorted(by_class.items())]
        context["transient_failed"] = by_class.get("transient", 0)  # only these are worth sending again
    context["allowed"] = lifecycle.available(campaign, request.user)
    context["needs_reapproval"] = selectors.needs_reapproval(campaign)
    previews = campaign.follow_ups.filter(audience=Campaign.Audience.PREVIEWERS).order_by("-id")
    context |= _path(campaign, previews)
    context["unstarted"] = [*services.DRAFTS, Campaign.State.SCHEDULED]
    if request.GET.get("partial") == "progress":
        # The buttons follow the state too (a send that completes no longer offers "pause"): swapped in
        # out of band with the numbers.
        return render(request, "campaigns/detail.html#progress", context | {"oob": True})
    if campaign.state in (
        Campaign.State.DRAFT,
        Campaign.State.APPROVED,
        Campaign.State.SCHEDULED,
        Campaign.State.AWAITING_APPROVAL,
    ):
        context["preflight"] = selectors.preflight(campaign) | {"quota": _quota(campaign)}
    context["stop_help"] = explain(campaign.stop_errcode, "") if campaign.stop_errcode else ("", "")
    context["audit"] = campaign.audit.select_related("user").order_by("-at", "-id")[:20]
    context["previewers"] = selectors.previewer_status(campaign)
    context["previewers_ready"] = any(sub and sub.can_receive for _p, sub in context["previewers"])
    context["previews"] = previews[:5]
    return render(request, "campaigns/detail.html", context)


def _path(campaign: Campaign, previews: QuerySet[Campaign]) -> dict[str, Any]:
    """Before a send starts, the way to it — preview, (submit,) approve, send — and the step it is at: that
    step's button is the primary one."""
    state, two_person = campaign.state, campaign.account.require_second_approver
    if campaign.audience == Campaign.Audience.PREVIEWERS or state not in (
        Campaign.State.DRAFT,
        Campaign.State.AWAITING_APPROVAL,
        Campaign.State.APPROVED,
    ):
        return {"steps": [], "step": ""}
    steps = [("preview", _("① 预览")), ("approve", _("② 审核")), ("send", _("③ 发送"))]
    if two_person:
        steps = [("preview", _("① 预览")), ("submit", _("② 提交审核")), ("approve", _("③ 审核")), ("send", _("④ 发送"))]
    if state == Campaign.State.APPROVED:
        step = "send"
    elif state == Campaign.State.AWAITING_APPROVAL:
        step = "approve"
    # Asked only here, before a send starts: the page polled every 2 s while sending does not pay for it.
    elif not previews.exists() and Previewer.objects.filter(account=campaign.account).exists():
        step = "preview"
    else:
        step = "submit" if two_person else "approve"
    return {"steps": steps, "step": step}


FAILURE_CLASSES = {
    "recipient": gettext_lazy("对方无法接收"),
    "transient": gettext_lazy("临时故障（可重发）"),
    "content": gettext_lazy("内容问题"),
    "campaign": gettext_lazy("整批问题"),
    "auth": gettext_lazy("授权问题"),
}

SERVICES = {  # the console's buttons; who may take each and from which state: lifecycle.TRANSITIONS
    Action.SUBMIT: services.submit,
    Action.APPROVE: services.approve,
    Action.SEND: services.start,
    Action.PAUSE: services.pause,
    Action.RESUME: services.resume,
    Action.CANCEL: services.cancel,
    Action.RETRY_UNKNOWN: services.retry_unknown,
    Action.RETRY_FAILED_TRANSIENT: services.retry_failed_transient,
    Action.SCHEDULE: services.schedule,
    Action.PREVIEW: services.preview,
}
DONE = {
    Action.SUBMIT: gettext_lazy("已提交审核，等待审核人审核。"),
    Action.APPROVE: gettext_lazy("已审核通过。"),
    Action.SEND: gettext_lazy("已开始发送。"),
    Action.PAUSE: gettext_lazy("已暂停。"),
    Action.RESUME: gettext_lazy("已继续发送。"),
    Action.CANCEL: gettext_lazy("已取消发送。"),
    Action.PREVIEW: gettext_lazy("预览已发出。"),
}


@require_POST
@account_required()
def campaign_action(request: AccountRequest, pk: int, action: str) -> HttpResponse:
    account = request.account
    campaign = get_object_or_404(Campaign, pk=pk, account=account)
    if action not in SERVICES:
        raise PermissionDenied
    try:  # the lifecycle refuses a person whose role may not (403) and a state that does not allow it
        if action == Action.SEND and (at := services.start_or_schedule(campaign=campaign, user=request.user)):
            messages.success(request, _("已定时，到时间会自动开始发送。"))
            if account.in_quiet_hours(at):
                messages.warning(request, _("定时时间在免打扰时段内：会等免打扰结束后再发送。"))
        elif action == Action.SEND:
            messages.success(request, str(DONE[Action.SEND]))
        elif action == Action.CANCEL and campaign.state in services.DRAFTS:
            services.cancel(campaign=campaign, user=request.user)
            messages.success(request, _("草稿「%(name)s」已删除。") % {"name": campaign.name})
            return redirect("campaigns:list")
        else:
            SERVICES[Action(action)](campaign=campaign, user=request.user)  # type: ignore[operator]
            messages.success(request, str(DONE.get(Action(action), _("操作已完成。"))))
    except services.CampaignError as error:
        messages.error(request, str(error))
    return redirect("campaigns:detail", pk=campaign.pk)


def _deliveries(request: HttpRequest, campaign: Campaign) -> QuerySet[Delivery]:
    return selectors.deliveries(
        campaign,
        state=request.GET.get("state", ""),
        errcode=as_int(request.GET.get("errcode")),
        openid=as_text(request.GET.get("openid"), max_length=64),
    )


@account_required()
def campaign_log(request: AccountRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk, account=request.account)
    matching = _deliveries(request, campaign)
    page = keyset_page(request, matching)
    rows = [(d, *explain(d.errcode, d.state, d.errmsg)) for d in page.rows]
    counts = tally.counts(campaign.pk)
    state = request.GET.get("state", "")
    filtered = request.GET.get("errcode") or request.GET.get("openid")
    # The counts give the total unless an error code or an openid narrows it; the position is how many
    # matching rows come before this page (newest first): one count each, never a walk through the pages.
    total = matching.count() if filtered else (counts.get(state, 0) if state else sum(counts.values()))
    first = 1 if page.is_first or not page.rows else matching.filter(id__gt=page.rows[0].id).count() + 1
    labels = dict(Delivery.State.choices)
    context = {
        "campaign": campaign,
        "page": page,
        "rows": rows,
        "codes": selectors.error_codes(campaign),
        "states": Delivery.State.choices,
        "by_state": [(s, labels[s], n) for s, n in sorted(counts.items(), key=lambda i: -i[1]) if n],
        "everyone": sum(counts.values()),
        "position": (first, first + len(page.rows) - 1, total),
    }
    return render(request, "campaigns/log.html", context)


@account_required()
def campaign_log_export(request: AccountRequest, pk: int, fmt: str) -> HttpResponseBase:
    """The send log (with the page's filters) as CSV or Excel, streamed from the database in chunks: the
    workbook is written in constant memory to a temporary file, so 300,000 rows do not fill the worker."""
    campaign = get_object_or_404(Campaign, pk=pk, account=request.account)
    header = [
        "OpenID",
        _("状态"),
        _("错误码"),
        _("错误信息"),
        _("原因"),
        _("建议"),
        _("消息 ID"),
        _("尝试次数"),
        _("完成时间"),
        _("状态代码"),  # stable whatever the language, for a program reading the file
    ]
    labels = dict(Delivery.State.choices)

    def rows() -> Iterator[list[Any]]:
        reasons: dict[tuple[int | None, str, str], tuple[str, str]] = {}  # a few distinct ones in 300,000 rows
        fields = ("openid", "state", "errcode", "errmsg", "msgid", "attempts", "finished_at")
        deliveries = _deliveries(request, campaign).order_by("id").values_list(*fields)
        for openid, state, errcode, errmsg, msgid, attempts, finished_at in deliveries.iterator(chunk_size=5000):
            why = errmsg if state == "skipped" else ""
            if (errcode, state, why) not in reasons:
                reasons[(errcode, state, why)] = explain(errcode, state, why)
            reason, action = reasons[(errcode, state, why)]
            finished = timezone.localtime(finished_at).strftime("%Y-%m-%d %H:%M:%S") if finished_at else ""
            code = "" if errcode is None else errcode
            label = labels.get(state, state)
            yield [openid, label, code, errmsg, reason, action, msgid or "", attempts, finished, state]

    name = f"campaign-{campaign.pk}-log"
    if fmt == "xlsx":
        return xlsx_response(f"{name}.xlsx", [(_("发送日志"), header, rows())])
    return csv_response(f"{name}.csv", header, rows())


@account_required()
def template_history(request: AccountRequest, pk: int) -> HttpResponse:
    """Every send of one template over time, side by side."""
    template = get_object_or_404(Template, pk=pk, account=request.account)
    # Newest first (ids grow with time); previews are not sends to compare.
    sends = Campaign.objects.filter(template=template).exclude(state=Campaign.State.DRAFT)
    page = keyset_page(request, sends.exclude(audience=Campaign.Audience.PREVIEWERS))
    context = {"template": template, "campaigns": selectors.with_counts(page.rows), "page": page}
    return render(request, "campaigns/history.html", context)


@account_required()
def audit_log(request: AccountRequest) -> HttpResponse:
    """Who sent, approved, paused, resumed or cancelled what, and what the system did by itself."""
    entries = AuditEntry.objects.filter(account=request.account).select_related("user", "campaign")
    action = request.GET.get("action", "")
    if action in Action.values:
        entries = entries.filter(action=action)
    page = keyset_page(request, entries)
    context = {"page": page, "entries": page.rows, "actions": Action.choices, "action": action}
    return render(request, "campaigns/audit.html", context)


@account_required()
def previewers(request: AccountRequest) -> HttpResponse:
    """The account's previewers: staff whose WeChat receives previews (their openid, e.g. from the follower list)."""
    account = request.account
    if request.method == "POST":
        if request.role not in PERMISSIONS["administer"]:
            raise PermissionDenied
        if request.POST.get("remove"):
            services.remove_previewer(account=account, previewer_id=as_int(request.POST["remove"]) or 0)
        else:
            name, openid = request.POST.get("name", "").strip(), request.POST.get("openid", "").strip()
            if name and openid:
                services.add_previewer(account=account, name=name, openid=openid)
            else:
                messages.error(request, _("请填写姓名，并选择一个人（或填写 OpenID）。"))
        return redirect("campaigns:previewers")
    context = {
        "previewers": Previewer.objects.filter(account=account),
        "senders": selectors.recent_senders(account),
    }
    return render(request, "campaigns/previewers.html", context)
