"""The activity form: WeChat's open-tag rules are checked here, before a patient meets them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount
from wxnotify.console.forms import LabelsAbove
from wxnotify.console.links import WebLinkField
from wxnotify.subscriptions.models import Activity, Template


class ActivityForm(LabelsAbove, forms.ModelForm):
    live_url = WebLinkField(label=_("直播或购买链接"), required=False)

    class Meta:
        model = Activity
        fields = ["title", "kind", "starts_at", "ends_at", "place", "live_url", "description", "templates"]
        widgets = {
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "templates": forms.CheckboxSelectMultiple,
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, account: OfficialAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        # Only this account's usable templates can be chosen: another account's ids are simply not valid choices.
        usable = Template.objects.filter(account=account, status=Template.Status.ACTIVE)
        self.fields["templates"].queryset = usable.exclude(kind=Template.Kind.LEGACY_ONE_TIME)  # type: ignore[attr-defined]
        self.fields["templates"].help_text = _("一个订阅按钮最多 5 个模板，且不能混用一次性和长期订阅（微信的规定）。")
        for name in ("starts_at", "ends_at"):
            self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends < starts:
            self.add_error("ends_at", _("结束时间不能早于开始时间。"))
        templates = list(data.get("templates") or [])
        if len(templates) > 5:
            self.add_error("templates", _("最多选择 5 个模板。"))
        if len({t.kind for t in templates}) > 1:
            self.add_error("templates", _("一次性订阅和长期订阅的模板不能放在同一个订阅按钮里。"))
        return data

    def save(self, commit: bool = True) -> Activity:
        activity: Activity = super().save(commit=False)
        activity.account = self.account
        if commit:
            activity.save()
            self.save_m2m()
        return activity
