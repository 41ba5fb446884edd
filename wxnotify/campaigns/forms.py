"""Composing a notification: template, audience, field values checked as WeChat would, and the link."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount
from wxnotify.campaigns.models import Campaign
from wxnotify.subscriptions.models import Activity, Template
from wxnotify.subscriptions.services import ensure_legacy_template
from wxnotify.subscriptions.validation import validate_fields, validate_one_time


class CampaignForm(forms.ModelForm):
    page = forms.URLField(label=_("跳转网页"), required=False, assume_scheme="https")
    # No max_length here: WeChat's own rule (≤15) is checked in clean(), in the same words as every field.
    title = forms.CharField(label=_("标题"), required=False, help_text=_("旧版一次性订阅消息的标题，15 个字以内"))

    class Meta:
        model = Campaign
        fields = [
            "name",
            "template",
            "audience",
            "activity",
            "source_campaign",
            "title",
            "page",
            "strict",
            "max_recipient_error_rate",
            "scheduled_at",
            "include_unfollowed",
        ]
        widgets = {"scheduled_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")}

    def __init__(self, *args: Any, account: OfficialAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        ensure_legacy_template(account)  # the older one-time message, when the account has its template id
        templates = Template.objects.filter(account=account, status=Template.Status.ACTIVE)
        if account.one_time_template_id:
            templates = templates.exclude(
                Q(kind=Template.Kind.LEGACY_ONE_TIME) & ~Q(template_id=account.one_time_template_id)
            )
        else:
            templates = templates.exclude(kind=Template.Kind.LEGACY_ONE_TIME)
        self.fields["template"].queryset = templates  # type: ignore[attr-defined]
        self.fields["activity"].queryset = Activity.objects.filter(account=account)  # type: ignore[attr-defined]
        self.fields["source_campaign"].queryset = Campaign.objects.filter(account=account)  # type: ignore[attr-defined]
        self.fields["scheduled_at"].input_formats = ["%Y-%m-%dT%H:%M"]  # type: ignore[attr-defined]
        template = self._template()
        self.legacy = bool(template and template.kind == Template.Kind.LEGACY_ONE_TIME)
        if not self.legacy:
            del self.fields["title"]  # only the older one-time message has a title of its own
        self.keywords = template.keywords if template else []
        for keyword in self.keywords:
            initial = (self.instance.data or {}).get(keyword["key"], "") if self.instance.pk else ""
            self.fields[f"field_{keyword['key']}"] = forms.CharField(
                label=keyword["name"], required=False, initial=initial
            )

    def _template(self) -> Template | None:
        value = (
            self.data.get("template")
            if self.is_bound
            else (self.initial.get("template") or getattr(self.instance, "template_id", None))
        )
        try:
            return Template.objects.filter(account=self.account, pk=int(value)).first() if value else None
        except (TypeError, ValueError):
            return None

    def field_values(self) -> dict[str, str]:
        return (
            {k["key"]: (self.data.get(f"field_{k['key']}") or "").strip() for k in self.keywords}
            if self.is_bound
            else {}
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        audience = data.get("audience")
        if data.get("minutes_before_start") is not None and not data.get("activity"):
            self.add_error("activity", _("「活动开始前」定时需要选择活动。"))
        if audience == Campaign.Audience.ACTIVITY and not data.get("activity"):
            self.add_error("activity", _("请选择活动。"))
        if audience in (Campaign.Audience.REACHED_BY, Campaign.Audience.NOT_YET_SENT) and not data.get(
            "source_campaign"
        ):
            self.add_error("source_campaign", _("请选择作为依据的那次发送。"))
        if self.legacy:
            errors = validate_one_time(data.get("title") or "", self.field_values().get("content", ""))
        else:
            errors = validate_fields(self.keywords, self.field_values())
        for error in errors:
            self.add_error("title" if error.key == "title" else f"field_{error.key}", error.message)
        return data

    def save(self, commit: bool = True) -> Campaign:
        campaign: Campaign = super().save(commit=False)
        campaign.account = self.account
        campaign.data = self.field_values()
        if commit:
            campaign.save()
        return campaign
