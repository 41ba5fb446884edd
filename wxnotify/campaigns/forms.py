"""Composing a notification: template, audience, field values checked as WeChat would, and the link."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount
from wxnotify.campaigns.models import Campaign
from wxnotify.console.forms import LabelsAbove
from wxnotify.console.links import WebLinkField
from wxnotify.console.params import as_int
from wxnotify.subscriptions.models import Activity, Template
from wxnotify.subscriptions.services import ensure_legacy_template
from wxnotify.subscriptions.validation import rule_hint, template_examples, validate_message

MINIPROGRAM_APPID = re.compile(r"wx[0-9a-f]{16}")


class CampaignForm(LabelsAbove, forms.ModelForm):
    page = WebLinkField(label=_("跳转网页"), required=False)
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
            "miniprogram_appid",
            "miniprogram_pagepath",
            "strict",
            "max_recipient_error_rate",
            "scheduled_at",
            "minutes_before_start",
            "canary_count",
            "canary_percent",
            "include_unfollowed",
        ]
        help_texts = {
            "miniprogram_appid": _("填写后点击卡片打开小程序（需已关联本公众号）；不填则打开上面的网页。"),
            "canary_count": _("先发给这么多人，确认无误后再点「继续发送」。"),
            "minutes_before_start": _("与「定时发送」二选一。"),
        }
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
        # Choosing a template reloads the form with that template's fields (console.js).
        self.fields["template"].widget.attrs["data-reload-with"] = "template"
        self.fields["activity"].queryset = Activity.objects.filter(account=account)  # type: ignore[attr-defined]
        sends = Campaign.objects.filter(account=account, started_at__isnull=False)  # sends that reached someone
        self.fields["source_campaign"].queryset = sends.exclude(audience=Campaign.Audience.PREVIEWERS)  # type: ignore[attr-defined]
        self.fields["scheduled_at"].input_formats = ["%Y-%m-%dT%H:%M"]  # type: ignore[attr-defined]
        template = self._template()
        self.template = template
        self.legacy = bool(template and template.kind == Template.Kind.LEGACY_ONE_TIME)
        if not self.legacy:
            del self.fields["title"]  # only the older one-time message has a title of its own
        self.keywords = template.keywords if template else []
        samples = template_examples(template) if template else {}
        for keyword in self.keywords:
            initial = (self.instance.data or {}).get(keyword["key"], "") if self.instance.pk else ""
            sample = samples.get(keyword["key"], "")
            example = {"placeholder": _("例如：%(sample)s") % {"sample": sample}} if sample else {}
            self.fields[f"field_{keyword['key']}"] = forms.CharField(
                label=keyword["name"],
                required=False,
                initial=initial,
                help_text=rule_hint(keyword.get("rule", "")),
                widget=forms.TextInput(attrs=example),
            )

    # How the compose page groups the fields: what and to whom, where a tap leads, and the rest folded away.
    GROUPS = {
        "basic": ["name", "template", "audience", "activity", "source_campaign", "title"],
        "target": ["page", "miniprogram_appid", "miniprogram_pagepath"],
        "advanced": [
            "scheduled_at",
            "minutes_before_start",
            "canary_count",
            "canary_percent",
            "strict",
            "max_recipient_error_rate",
            "include_unfollowed",
        ],
    }

    # The fields a reload of the page (another template chosen) carries over as they were.
    CARRIED = ("template", *[name for names in GROUPS.values() for name in names if name != "template"])

    @property
    def grouped(self) -> dict[str, list[forms.BoundField]]:
        return {name: [self[f] for f in names if f in self.fields] for name, names in self.GROUPS.items()}

    def advanced_errors(self) -> bool:
        return any(field.errors for field in self.grouped["advanced"])

    def _template(self) -> Template | None:
        value = (
            self.data.get("template")
            if self.is_bound
            else (self.initial.get("template") or getattr(self.instance, "template_id", None))
        )
        pk = as_int(value)
        return Template.objects.filter(account=self.account, pk=pk).first() if pk is not None else None

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
        if data.get("canary_count") and data.get("canary_percent"):
            self.add_error("canary_percent", _("人数和百分比只填一个。"))
        if data.get("scheduled_at") and data.get("minutes_before_start") is not None:
            self.add_error("minutes_before_start", _("「定时发送」和「活动开始前」只选一个。"))
        appid, pagepath = data.get("miniprogram_appid"), data.get("miniprogram_pagepath")
        if bool(appid) != bool(pagepath):
            self.add_error("miniprogram_pagepath", _("小程序需要同时填写 AppID 和页面路径。"))
        elif appid and not MINIPROGRAM_APPID.fullmatch(appid):
            self.add_error("miniprogram_appid", _("小程序 AppID 以 wx 开头，共 18 位。"))
        if audience == Campaign.Audience.ACTIVITY and not data.get("activity"):
            self.add_error("activity", _("请选择活动。"))
        if audience in (Campaign.Audience.REACHED_BY, Campaign.Audience.NOT_YET_SENT) and not data.get(
            "source_campaign"
        ):
            self.add_error("source_campaign", _("请选择作为依据的那次发送。"))
        # Only a template that is a valid choice (active, this account's) is checked: one deleted in WeChat since
        # the page was opened is refused above, and its fields may not be the form's.
        template = data.get("template")
        errors = validate_message(template, self.field_values(), data.get("title") or "") if template else []
        for error in errors:
            name = "title" if error.key == "title" else f"field_{error.key}"
            self.add_error(name if name in self.fields else None, error.message)
        return data

    def save(self, commit: bool = True) -> Campaign:
        campaign: Campaign = super().save(commit=False)
        campaign.account = self.account
        campaign.data = self.field_values()
        if commit:
            campaign.save()
        return campaign
