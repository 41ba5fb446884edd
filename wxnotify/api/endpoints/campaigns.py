"""Notifications (campaigns): compose through the console's form, take them through the one lifecycle (the
same actions, roles, two-person rule and refusals as the console's buttons), watch their progress and read
their per-recipient log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from wxnotify.accounts.access import AccountRequest
from wxnotify.api import schemas
from wxnotify.api.auth import require
from wxnotify.api.endpoints.account import ERRORS
from wxnotify.api.endpoints.paging import page
from wxnotify.api.forms import blank, check
from wxnotify.campaigns import lifecycle, selectors, services
from wxnotify.campaigns.forms import CampaignForm
from wxnotify.campaigns.models import Action, Campaign
from wxnotify.campaigns.reasons import explain
from wxnotify.subscriptions.models import Template

router = Router(tags=["campaigns"])
ACTION_ERRORS = ERRORS | {409: schemas.Error}

# The API's verbs: the lifecycle's action each takes, the token scope it needs, and the service.
VERBS: dict[str, tuple[Action, str, Callable[..., Any], str]] = {
    "submit": (Action.SUBMIT, "write", services.submit, "Ready for approval (where a second approver is required)"),
    "approve": (Action.APPROVE, "send", services.approve, "Approve the content as it is (not its own author's)"),
    "preview": (Action.PREVIEW, "send", services.preview, "Send the content to the account's previewers"),
    "schedule": (Action.SCHEDULE, "send", services.schedule, "Send at scheduled_at or minutes_before_start"),
    "start": (Action.SEND, "send", services.start_or_schedule, "Send now (or schedule, when it has a time)"),
    "pause": (Action.PAUSE, "send", services.pause, "Pause a send; resume continues it"),
    "resume": (Action.RESUME, "send", services.resume, "Continue a paused or halted send"),
    "cancel": (Action.CANCEL, "send", services.cancel, "Cancel (a draft: delete it)"),
    "retry-unknown": (
        Action.RETRY_UNKNOWN,
        "send",
        services.retry_unknown,
        "Send again to those whose result is unknown",
    ),
    "retry-failed": (
        Action.RETRY_FAILED_TRANSIENT,
        "send",
        services.retry_failed_transient,
        "Send again to those who failed for a passing reason",
    ),
}
BY_ACTION: dict[str, tuple[str, str]] = {action: (verb, scope) for verb, (action, scope, _s, _d) in VERBS.items()}
# The composed fields, named as the console's form names them (the template by its WeChat id in the API).
FORM_FIELDS: list[str] = list(CampaignForm.Meta.fields)


CLEARABLE = {"activity", "source_campaign", "scheduled_at", "minutes_before_start", "canary_count", "canary_percent"}


def _verbs(request: AccountRequest, campaign: Campaign) -> list[str]:
    """What this token may do to the campaign now: its person's actions (role, state, two-person rule)
    within its scopes."""
    token = request.auth  # type: ignore[attr-defined]
    out = []
    for action in lifecycle.available(campaign, request.user, role=request.role):
        verb, scope = BY_ACTION.get(action, ("update", "write") if action == Action.EDIT else ("", ""))
        if verb and scope in token.scopes:
            out.append(verb)
    return sorted(out)


def out(request: AccountRequest, campaign: Campaign, counts: dict[str, int] | None = None) -> dict[str, Any]:
    progress = selectors.progress(campaign) if counts is None else counts
    live = selectors.live(campaign, progress, timezone.now())
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "state": campaign.state,
        "state_label": str(campaign.get_state_display()),
        "template": campaign.template.template_id,
        "audience": campaign.audience,
        "activity": campaign.activity_id,
        "source_campaign": campaign.source_campaign_id,
        "fields": campaign.data or {},
        "title": campaign.title,
        "page": campaign.page,
        "miniprogram_appid": campaign.miniprogram_appid,
        "miniprogram_pagepath": campaign.miniprogram_pagepath,
        "strict": campaign.strict,
        "max_recipient_error_rate": campaign.max_recipient_error_rate,
        "include_unfollowed": campaign.include_unfollowed,
        "scheduled_at": campaign.scheduled_at,
        "minutes_before_start": campaign.minutes_before_start,
        "canary_count": campaign.canary_count,
        "canary_percent": campaign.canary_percent,
        "created_at": campaign.created_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
        "stop_reason": campaign.stop_reason,
        "stop_errcode": campaign.stop_errcode,
        "progress": progress | live,
        "actions": _verbs(request, campaign),
        "console_url": settings.WXNOTIFY_PUBLIC_URL + reverse("campaigns:detail", args=[campaign.pk]),
    }


def _campaign(request: AccountRequest, campaign_id: int) -> Campaign:
    queryset = Campaign.objects.select_related("template", "account")
    return get_object_or_404(queryset, pk=campaign_id, account=request.account)


def _form_data(account: Any, values: dict[str, Any]) -> dict[str, Any]:
    data = {name: blank(values.get(name)) for name in FORM_FIELDS}
    template = Template.objects.filter(account=account, template_id=values.get("template") or "").first()
    # An unknown template id stays as it was given: the form refuses it in the console's words.
    data["template"] = template.pk if template else blank(values.get("template"))
    for key, value in (values.get("fields") or {}).items():
        data[f"field_{key}"] = value
    return data


def _save(request: AccountRequest, values: dict[str, Any], instance: Campaign | None) -> Campaign:
    account = request.account
    form = CampaignForm(_form_data(account, values), instance=instance, account=account)
    check(form)
    return services.save(campaign=form.save(commit=False), user=request.user)


class Listing(Schema):
    state: str = Field("", description="Only notifications in this state (draft, sending, completed, …)")
    before: int | None = Field(None, ge=1)
    limit: int = Field(50, ge=1, le=200)


@router.get("/campaigns", response={200: schemas.CampaignPage} | ERRORS, summary="Notifications, newest first")
def campaigns(request: AccountRequest, query: Query[Listing]) -> dict[str, Any]:
    require(request, "read")
    rows = selectors.listed(request.account)
    if query.state in Campaign.State.values:
        rows = rows.filter(state=query.state)
    found, after = page(rows.select_related("account"), query)
    selectors.with_counts(found)
    items = [out(request, c, c.counts | {"total": c.total}) for c in found]
    return {"items": items, "next_before": after}


@router.post(
    "/campaigns",
    response={201: schemas.CampaignOut} | ERRORS,
    summary="Compose a notification (a draft), with the console's checks; send an Idempotency-Key",
)
def create(request: AccountRequest, payload: schemas.CampaignIn) -> Status[dict[str, Any]]:
    require(request, "write", "operate")
    campaign = _save(request, payload.dict(), None)
    return Status(201, out(request, _campaign(request, campaign.pk)))


@router.get(
    "/campaigns/{campaign_id}",
    response={200: schemas.CampaignOut} | ERRORS,
    summary="Status, live counts",
    url_name="campaign",
)
def campaign(request: AccountRequest, campaign_id: int) -> dict[str, Any]:
    require(request, "read")
    return out(request, _campaign(request, campaign_id))


@router.patch(
    "/campaigns/{campaign_id}",
    response={200: schemas.CampaignOut} | ACTION_ERRORS,
    summary="Change a draft (or a paused or halted send's content): only the fields given change",
)
def update(request: AccountRequest, campaign_id: int, payload: schemas.CampaignPatch) -> dict[str, Any]:
    require(request, "write", "operate")
    current = _campaign(request, campaign_id)
    if not lifecycle.allowed(current, Action.EDIT):
        raise services.CampaignError(str(lifecycle.TRANSITIONS[Action.EDIT].refusal))
    values: dict[str, Any] = {name: getattr(current, f"{name}_id", None) for name in ("activity", "source_campaign")}
    values |= {name: getattr(current, name) for name in FORM_FIELDS if name not in values}
    values |= {"template": current.template.template_id, "fields": dict(current.data or {})}
    # null clears a field that may be empty (a schedule, a canary, the activity); for the others it means
    # "leave as it is" (a notification always has a name, a template, an audience).
    change = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None or k in CLEARABLE}
    if "fields" in change:
        values["fields"] |= change.pop("fields") or {}
    _save(request, values | change, current)
    return out(request, _campaign(request, campaign_id))


def _verb(verb: str, action: Action, scope: str, service: Callable[..., Any]) -> Callable[..., Any]:
    def take(request: AccountRequest, campaign_id: int) -> dict[str, Any]:
        require(request, scope)
        found = _campaign(request, campaign_id)
        service(campaign=found, user=request.user)  # the lifecycle checks role, state and the two-person rule
        return out(request, _campaign(request, campaign_id))

    take.__name__ = verb.replace("-", "_")
    return take


for _verb_name, (_action, _scope, _service, _summary) in VERBS.items():
    router.post(
        f"/campaigns/{{campaign_id}}/{_verb_name}",
        response={200: schemas.CampaignOut} | ACTION_ERRORS,
        summary=_summary,
        operation_id=f"campaign_{_verb_name.replace('-', '_')}",
    )(_verb(_verb_name, _action, _scope, _service))


class DeliveryFilter(Schema):
    state: str = Field("", description="pending, sent, failed, skipped, unknown, cancelled, …")
    errcode: int | None = None
    openid: str = Field("", max_length=64)
    before: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)


@router.get(
    "/campaigns/{campaign_id}/deliveries",
    response={200: schemas.DeliveryPage} | ERRORS,
    summary="Who it was meant for and what happened, with the reason (keyset paged, newest first)",
)
def deliveries(request: AccountRequest, campaign_id: int, query: Query[DeliveryFilter]) -> dict[str, Any]:
    require(request, "read")
    found = _campaign(request, campaign_id)
    rows = selectors.deliveries(found, state=query.state, errcode=query.errcode, openid=query.openid)
    items, after = page(rows, query)
    listed = []
    for d in items:
        reason, action = explain(d.errcode, d.state, d.errmsg)
        listed.append(
            {
                "id": d.pk,
                "openid": d.openid,
                "state": d.state,
                "errcode": d.errcode,
                "errmsg": d.errmsg,
                "reason": reason,
                "action": action,
                "msgid": d.msgid,
                "attempts": d.attempts,
                "finished_at": d.finished_at,
                "delivered_at": d.confirmed_at,
            }
        )
    return {"items": listed, "next_before": after}
