"""Console pages: the notification management list (templates), activities and their entry points."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wechat.errors import WeChatError
from wxnotify.accounts.access import AccountRequest, account_required
from wxnotify.console.paging import keyset_page
from wxnotify.subscriptions import services
from wxnotify.subscriptions.forms import ActivityForm
from wxnotify.subscriptions.links import page_url, qr_code
from wxnotify.subscriptions.models import Activity, SubscriptionEvent, Template
from wxnotify.subscriptions.validation import rule_hint, rule_name, template_examples, validate_fields
from wxnotify.subscriptions.wechat_sync import sync_templates

log = logging.getLogger(__name__)


@account_required()
def template_list(request: AccountRequest) -> HttpResponse:
    account = request.account
    counts = services.template_counts(account)
    templates = Template.objects.filter(account=account).prefetch_related("activities")
    rows = [(t, counts.get(t.pk, services.Counts(0, 0))) for t in templates]
    context = {"rows": rows, "unattributed": services.unattributed_accepts(account)}
    if request.GET.get("partial") == "rows":
        return render(request, "subscriptions/templates.html#rows", context)
    return render(request, "subscriptions/templates.html", context)


@require_POST
@account_required("operate")
def template_sync(request: AccountRequest) -> HttpResponse:
    account = request.account
    try:
        report = async_to_sync(sync_templates)(account)
    except WeChatError as error:
        log.warning("template sync for %s failed: %s", account.appid, error)
        messages.error(request, _("从微信同步模板失败：%(error)s") % {"error": error})
        return redirect("subscriptions:templates")
    parts = [
        _("新增 %(n)d 个") % {"n": len(report.added)},
        _("变更 %(n)d 个") % {"n": len(report.changed)},
        _("已在微信删除 %(n)d 个") % {"n": len(report.deleted)},
    ]
    messages.success(request, _("模板已同步：") + "，".join(parts))
    for title in report.deleted:
        messages.warning(request, _("模板「%(title)s」已在微信后台删除，使用它的活动无法再订阅。") % {"title": title})
    for title in report.changed:
        messages.warning(
            request, _("模板「%(title)s」在微信后台有变更，请检查使用它的活动和通知内容。") % {"title": title}
        )
    return redirect("subscriptions:templates")


@account_required()
def template_detail(request: AccountRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(Template, pk=pk, account=request.account)
    counts = services.template_counts(request.account).get(template.pk, services.Counts(0, 0))
    # A try-out form: values typed here are checked as WeChat would check them, with a card preview.
    values = {k["key"]: request.POST.get(k["key"], "") for k in template.keywords} if request.method == "POST" else {}
    errors = validate_fields(template.keywords, values) if values else []
    fields = [
        (k, values.get(k["key"], ""), next((e for e in errors if e.key == k["key"]), None)) for k in template.keywords
    ]
    samples = template_examples(template)
    rules = [(k, rule_name(k["rule"]), rule_hint(k["rule"]), samples.get(k["key"], "")) for k in template.keywords]
    context = {
        "template": template,
        "counts": counts,
        "fields": fields,
        "rules": rules,
        "checked": bool(values),
        "errors": errors,
    }
    if request.method == "POST" and request.headers.get("HX-Request"):
        return render(request, "subscriptions/template_detail.html#tryout", context)
    return render(request, "subscriptions/template_detail.html", context)


@account_required()
def activity_list(request: AccountRequest) -> HttpResponse:
    account = request.account
    activities = Activity.objects.filter(account=account).prefetch_related("templates")
    return render(request, "subscriptions/activities.html", {"activities": activities})


@account_required("operate")
def activity_edit(request: AccountRequest, pk: int | None = None) -> HttpResponse:
    account = request.account
    activity = get_object_or_404(Activity, pk=pk, account=account) if pk else None
    form = ActivityForm(request.POST or None, instance=activity, account=account)
    if request.method == "POST" and form.is_valid():
        activity = services.save_activity(form=form, user=request.user)
        messages.success(request, _("活动已保存。"))
        return redirect("subscriptions:activity", pk=activity.pk)
    return render(request, "subscriptions/activity_form.html", {"form": form, "activity": activity})


@account_required()
def activity_detail(request: AccountRequest, pk: int) -> HttpResponse:
    account = request.account
    activity = get_object_or_404(Activity.objects.prefetch_related("templates"), pk=pk, account=account)
    counts = services.activity_counts(activity)
    rows = [(t, counts.get(t.pk, services.Counts(0, 0))) for t in activity.templates.all()]
    context = {"activity": activity, "rows": rows, "page_url": page_url(activity)}
    if request.GET.get("partial") == "counts":
        return render(request, "subscriptions/activity_detail.html#counts", context)
    events = SubscriptionEvent.objects.filter(activity=activity).select_related("template")
    context["page"] = keyset_page(request, events)
    confirm = settings.WXNOTIFY_PUBLIC_URL + reverse("subscribe:confirm", args=[activity.code])
    context["confirm_url"] = confirm if account.one_time_template_id else ""
    return render(request, "subscriptions/activity_detail.html", context)


@account_required()
def activity_qr(request: AccountRequest, pk: int, fmt: str) -> HttpResponse:
    activity = get_object_or_404(Activity, pk=pk, account=request.account)
    image, content_type = qr_code(activity, fmt)
    response = HttpResponse(image, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="activity-{activity.code}.{fmt}"'
    return response


@account_required()
def activity_poster(request: AccountRequest, pk: int) -> HttpResponse:
    activity = get_object_or_404(Activity, pk=pk, account=request.account)
    return render(request, "subscriptions/poster.html", {"activity": activity, "page_url": page_url(activity)})
