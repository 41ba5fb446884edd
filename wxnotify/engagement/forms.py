"""The welcome, the keyword rules and the menu editor's rows, checked the way WeChat would."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from wechat.menus import BUTTON_TYPES
from wxnotify.accounts.models import OfficialAccount
from wxnotify.console.forms import LabelsAbove
from wxnotify.console.links import WebLinkField
from wxnotify.engagement import menus
from wxnotify.engagement.models import KeywordRule, ReplyKind, Welcome

REPLY_FIELDS = ["reply_kind", "text", "title", "description", "pic_url", "url"]


def _check_reply(form: forms.ModelForm, data: dict[str, Any], *, allow_none: bool) -> None:
    kind = data.get("reply_kind")
    if kind == ReplyKind.TEXT and not (data.get("text") or "").strip():
        form.add_error("text", _("文字回复需要内容。"))
    if kind == ReplyKind.NEWS and not (data.get("title") or "").strip():
        form.add_error("title", _("图文需要标题。"))
    if kind == ReplyKind.NONE and not allow_none:
        form.add_error("reply_kind", _("请选择文字或图文。"))


class WelcomeForm(LabelsAbove, forms.ModelForm):
    pic_url = WebLinkField(label=_("封面图片地址"), required=False, help_text=_("JPG/PNG，大图 360×200。"))
    url = WebLinkField(label=_("点击后打开的网页"), required=False)
    second_pic_url = WebLinkField(label=_("第二条：封面图片地址"), required=False)
    second_url = WebLinkField(label=_("第二条：点击后打开的网页"), required=False)

    class Meta:
        model = Welcome
        fields = [
            "scene",
            "when",
            "enabled",
            *REPLY_FIELDS,
            "second_enabled",
            "second_title",
            "second_description",
            "second_pic_url",
            "second_url",
        ]
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}
        labels = {"reply_kind": _("回复类型")}
        help_texts = {
            "second_enabled": _(
                "微信自己的后台只能回复一条；这条图文在关注后由客服消息接口紧接着发出（关注后 1 分钟内有效）。"
            ),
        }

    def __init__(self, *args: Any, account: OfficialAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.instance.account = account

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _check_reply(self, data, allow_none=True)
        if data.get("second_enabled") and not (data.get("second_title") or "").strip():
            self.add_error("second_title", _("第二条图文需要标题。"))
        duplicate = Welcome.objects.filter(account=self.account, scene=data.get("scene") or "", when=data.get("when"))
        if self.instance.pk:
            duplicate = duplicate.exclude(pk=self.instance.pk)
        if duplicate.exists():
            self.add_error("when", _("这个场景已经有一条同样适用范围的关注回复。"))
        return data

    def preview_bubbles(self) -> list[dict[str, Any]]:
        """The chat as the patient would see it, from what is typed now (valid or not)."""
        value = {name: self[name].value() for name in self.fields}

        def text(name: str) -> str:
            return str(value.get(name) or "").strip()

        bubbles: list[dict[str, Any]] = []
        if value.get("reply_kind") == ReplyKind.TEXT and text("text"):
            bubbles.append({"kind": "text", "text": text("text")})
        elif value.get("reply_kind") == ReplyKind.NEWS and text("title"):
            bubbles.append(
                {"kind": "news", "title": text("title"), "description": text("description"), "pic_url": text("pic_url")}
            )
        if value.get("second_enabled") and text("second_title"):
            bubbles.append(
                {
                    "kind": "news",
                    "title": text("second_title"),
                    "description": text("second_description"),
                    "pic_url": text("second_pic_url"),
                }
            )
        return bubbles


class KeywordRuleForm(LabelsAbove, forms.ModelForm):
    pic_url = WebLinkField(label=_("封面图片地址"), required=False)
    url = WebLinkField(label=_("点击后打开的网页"), required=False)

    class Meta:
        model = KeywordRule
        fields = ["name", "match", "keywords", "priority", "enabled", *REPLY_FIELDS]
        widgets = {"keywords": forms.Textarea(attrs={"rows": 3}), "text": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, account: OfficialAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.instance.account = account
        self.fields["reply_kind"].choices = [(k, v) for k, v in ReplyKind.choices if k != ReplyKind.NONE]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _check_reply(self, data, allow_none=False)
        match = data.get("match")
        if match != KeywordRule.Match.DEFAULT and not (data.get("keywords") or "").strip():
            self.add_error("keywords", _("请至少填写一个关键词。"))
        if match == KeywordRule.Match.DEFAULT and data.get("enabled"):
            others = KeywordRule.objects.filter(account=self.account, match=match, enabled=True)
            if self.instance.pk:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error("match", _("已经有一条启用的默认回复。"))
        return data


TYPE_CHOICES = [
    ("", _("（有子菜单）")),
    ("click", _("点击（发送 key）")),
    ("view", _("打开网页")),
    ("miniprogram", _("打开小程序")),
    ("scancode_push", _("扫码")),
    ("scancode_waitmsg", _("扫码并等待消息")),
    ("pic_sysphoto", _("拍照")),
    ("pic_photo_or_album", _("拍照或相册")),
    ("pic_weixin", _("微信相册")),
    ("location_select", _("发送位置")),
    ("media_id", _("永久素材")),
    ("view_limited", _("图文素材网页")),
    ("article_id", _("已发表文章")),
    ("article_view_limited", _("已发表文章（网页）")),
]
assert {k for k, _ in TYPE_CHOICES if k} == set(BUTTON_TYPES)  # every WeChat type has a label


def _box(placeholder: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"placeholder": placeholder})


class MenuRowForm(LabelsAbove, forms.Form):
    """One row of the menu editor: an item, with its identity kept in `uid`."""

    uid = forms.CharField(widget=forms.HiddenInput, required=False)
    parent = forms.ChoiceField(label=_("位置"), required=False)
    position = forms.IntegerField(label=_("顺序"), required=False, min_value=0, max_value=99)
    name = forms.CharField(label=_("名称"), required=False, max_length=60)
    type = forms.ChoiceField(label=_("类型"), choices=TYPE_CHOICES, required=False)
    key = forms.CharField(label="key", required=False, max_length=200, widget=_box(_("key（点击、扫码、拍照、位置）")))
    url = forms.CharField(label=_("网页地址"), required=False, max_length=2000, widget=_box(_("网页地址 https://…")))
    appid = forms.CharField(label=_("小程序 AppID"), required=False, max_length=32, widget=_box(_("小程序 AppID")))
    pagepath = forms.CharField(label=_("小程序页面"), required=False, max_length=255, widget=_box(_("小程序页面")))
    media_id = forms.CharField(label="media_id", required=False, max_length=128, widget=_box("media_id"))
    article_id = forms.CharField(label="article_id", required=False, max_length=128, widget=_box("article_id"))

    def __init__(self, *args: Any, parents: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", _("一级菜单")), *parents]  # type: ignore[attr-defined]


class BaseMenuRows(forms.BaseFormSet):
    def __init__(self, *args: Any, parents: list[tuple[str, str]], **kwargs: Any) -> None:
        self.parents = parents
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"parents": self.parents}

    def rows(self) -> list[dict[str, Any]]:
        """The named rows, each with its identity (a new row gets one here, once)."""
        return [menus.clean_row(f.cleaned_data) for f in self.forms if f.cleaned_data.get("name")]


MenuRows = cast(
    "type[BaseMenuRows]",
    forms.formset_factory(MenuRowForm, formset=BaseMenuRows, extra=3, max_num=40, absolute_max=60),
)
