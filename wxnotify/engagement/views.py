"""Console pages for engagement: the welcome (with a phone preview and a test send), keyword replies,
and the custom menu (editor, preview, publish, import, versions)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wxnotify.accounts.access import PERMISSIONS, AccountRequest, account_required
from wxnotify.campaigns.models import Previewer
from wxnotify.console.paging import keyset_page
from wxnotify.console.params import as_int
from wxnotify.engagement import menus, selectors, services
from wxnotify.engagement.forms import KeywordRuleForm, MenuRows, WelcomeForm
from wxnotify.engagement.models import KeywordRule, SecondMessage, Welcome
from wxnotify.engagement.reasons import explain


def _may_operate(request: AccountRequest) -> bool:
    return request.role in PERMISSIONS["operate"]


# --- welcome --------------------------------------------------------------------------------------


@account_required()
def welcome_list(request: AccountRequest) -> HttpResponse:
    account = request.account
    sent = SecondMessage.objects.filter(account=account, is_test=False).select_related("inbound").defer("inbound__body")
    state = request.GET.get("state", "")
    if state in SecondMessage.State.values:
        sent = sent.filter(state=state)
    page = keyset_page(request, sent)
    counts = selectors.second_message_counts(account)
    context = {
        "welcomes": Welcome.objects.filter(account=account),
        "page": page,
        "rows": [(m, *explain(m)) for m in page.rows],
        "state": state,
        "states": SecondMessage.State.choices,
        "boxes": [
            (value, label, counts.get(value, 0)) for value, label in SecondMessage.State.choices if value != "pending"
        ],
    }
    return render(request, "engagement/welcome_list.html", context)


@account_required()
def welcome_edit(request: AccountRequest, pk: int | None = None) -> HttpResponse:
    account = request.account
    welcome = get_object_or_404(Welcome, pk=pk, account=account) if pk else None
    if request.method == "POST" and not _may_operate(request):
        raise PermissionDenied
    form = WelcomeForm(request.POST or None, instance=welcome, account=account)
    if request.method == "POST" and request.htmx:  # type: ignore[attr-defined]
        form.is_valid()  # the preview shows what is typed, valid or not
        return render(request, "engagement/welcome_form.html#preview", {"form": form})
    if request.method == "POST" and form.is_valid():
        saved = services.save_welcome(welcome=form.save(commit=False), user=request.user)
        messages.success(request, _("关注回复已保存，新关注的人会收到。"))
        return redirect("engagement:welcome_edit", pk=saved.pk)
    context = {
        "form": form,
        "welcome": welcome,
        "previewers": Previewer.objects.filter(account=account),
        "tests": SecondMessage.objects.filter(welcome=welcome, is_test=True)[:6] if welcome else [],
    }
    return render(request, "engagement/welcome_form.html", context)


@require_POST
@account_required("operate")
def welcome_delete(request: AccountRequest, pk: int) -> HttpResponse:
    services.delete_welcome(welcome=get_object_or_404(Welcome, pk=pk, account=request.account))
    messages.success(request, _("已删除。"))
    return redirect("engagement:welcome_list")


@require_POST
@account_required("operate")
def welcome_test(request: AccountRequest, pk: int) -> HttpResponse:
    account = request.account
    welcome = get_object_or_404(Welcome, pk=pk, account=account)
    previewer = Previewer.objects.filter(account=account, pk=as_int(request.POST.get("previewer")) or 0).first()
    if previewer is None:
        messages.error(request, _("请选择一位预览人。"))
    else:
        services.queue_test(account=account, welcome=welcome, openid=previewer.openid)
        messages.success(
            request,
            _("已发给 %(name)s。微信只在对方 48 小时内给公众号发过消息（或 1 分钟内点过菜单、关注过）时才送达。")
            % {"name": previewer.name},
        )
    return redirect("engagement:welcome_edit", pk=welcome.pk)


# --- keyword replies -------------------------------------------------------------------------------


@account_required()
def rule_list(request: AccountRequest) -> HttpResponse:
    account = request.account
    return render(request, "engagement/rules.html", {"rules": selectors.rules_with_hits(account)})


@account_required()
def rule_edit(request: AccountRequest, pk: int | None = None) -> HttpResponse:
    account = request.account
    rule = get_object_or_404(KeywordRule, pk=pk, account=account) if pk else None
    if request.method == "POST" and not _may_operate(request):
        raise PermissionDenied
    form = KeywordRuleForm(request.POST or None, instance=rule, account=account)
    if request.method == "POST" and form.is_valid():
        services.save_rule(rule=form.save(commit=False))
        messages.success(request, _("规则已保存，立即生效。"))
        return redirect("engagement:rules")
    return render(request, "engagement/rule_form.html", {"form": form, "rule": rule})


@require_POST
@account_required("operate")
def rule_delete(request: AccountRequest, pk: int) -> HttpResponse:
    services.delete_rule(rule=get_object_or_404(KeywordRule, pk=pk, account=request.account))
    messages.success(request, _("已删除。"))
    return redirect("engagement:rules")


# --- the custom menu -------------------------------------------------------------------------------


@account_required()
def menu(request: AccountRequest) -> HttpResponse:
    account = request.account
    rows = selectors.draft_rows(account)
    parents = [(r["uid"], r["name"]) for r in sorted(rows, key=lambda r: r["position"]) if not r["parent"]]
    if request.method == "POST":
        if not _may_operate(request):
            raise PermissionDenied
        action = request.POST.get("action", "save")
        if action == "import":
            return _menu_result(
                request,
                lambda: services.import_menu(account=account, user=request.user),
                _("已从微信导入当前菜单，保存为新版本。"),
            )
        formset = MenuRows(request.POST, parents=parents)
        if request.htmx and formset.is_valid():  # type: ignore[attr-defined]  # the preview follows typing
            built, problems = menus.problems_of(formset.rows())
            context = {"preview": selectors.menu_tree(built.buttons), "problems": problems}
            return render(request, "engagement/menu.html#preview", context)
        if formset.is_valid():
            posted = formset.rows()
            services.save_draft(account=account, rows=posted, user=request.user)
            if action == "publish":
                return _menu_result(
                    request,
                    lambda: services.publish_menu(account=account, rows=posted, user=request.user),
                    _("菜单已发布到微信。"),
                )
            messages.success(request, _("草稿已保存（尚未发布到微信）。"))
            return redirect("engagement:menu")
    else:
        formset = MenuRows(
            initial=sorted(rows, key=lambda r: (bool(r["parent"]), r["parent"], r["position"])), parents=parents
        )
    built, problems = menus.problems_of(rows)
    context = {
        "formset": formset,
        "preview": selectors.menu_tree(built.buttons),
        "problems": problems,
        "live": selectors.live_version(account),
        "draft_differs": selectors.draft_differs(account, built.buttons),
    }
    return render(request, "engagement/menu.html", context)


def _menu_result(request: HttpRequest, action: Any, success: str) -> HttpResponse:
    try:
        version = action()
    except services.MenuRefused as refused:
        for problem in refused.problems:
            messages.error(request, problem)
        return redirect("engagement:menu")
    messages.success(request, f"{success}（v{version.number}）")
    return redirect("engagement:menu")


@account_required()
def menu_versions(request: AccountRequest) -> HttpResponse:
    account = request.account
    return render(request, "engagement/menu_versions.html", {"versions": selectors.versions_with_items(account)})
