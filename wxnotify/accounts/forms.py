"""Connecting an account. Secrets are write-only: the form never renders a saved one back."""

from __future__ import annotations

import secrets
import string
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from wechat.crypto import generate_encoding_aes_key
from wxnotify.accounts.models import MessageMode, OfficialAccount, aes_key_validator, token_validator
from wxnotify.console.forms import LabelsAbove

SECRET_FIELDS = ("app_secret", "callback_token", "encoding_aes_key")


def generate_callback_token() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


class AccountForm(LabelsAbove, forms.ModelForm):
    app_secret = forms.CharField(
        label=_("AppSecret"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    callback_token = forms.CharField(
        label=_("令牌（Token）"),
        required=False,
        validators=[token_validator],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    encoding_aes_key = forms.CharField(
        label=_("消息加解密密钥（EncodingAESKey）"),
        required=False,
        validators=[aes_key_validator],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = OfficialAccount
        fields = [
            "name",
            "appid",
            "original_id",
            "message_mode",
            "one_time_template_id",
            "require_second_approver",
            "send_rate",
            "quiet_start",
            "quiet_end",
            "is_active",
        ]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {
            "message_mode": _(
                "推荐安全模式：推送加密，并带覆盖密文的签名（msg_signature）。兼容模式同样只采信加密部分。"
                "明文模式下微信的签名不覆盖消息内容：本系统拒绝时间戳超出窗口或 nonce 被重用的推送，"
                "这已是明文协议所能做到的全部，截获过推送的人仍可能在窗口内抢先伪造。须与公众平台「服务器配置」一致。"
            ),
            "send_rate": _("所有发送进程合计；留空使用站点默认值。"),
            "quiet_start": _("北京时间；免打扰时段内发送会等待，结束后自动继续。"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = self.instance.pk is not None
        if self.editing:
            self.fields["appid"].disabled = True
            for name in SECRET_FIELDS:
                field = self.fields[name]
                field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
                field.help_text = (
                    _("已设置，不再显示。留空表示不修改。") if getattr(self.instance, name) else _("未设置。")
                )
        else:
            # New secrets that WeChat's backend will be told: proposed here, shown only until saved.
            self.fields["callback_token"].initial = generate_callback_token()
            self.fields["encoding_aes_key"].initial = generate_encoding_aes_key()
            self.fields["callback_token"].help_text = _("把同一令牌填到公众平台「服务器配置」。")
            self.fields["encoding_aes_key"].help_text = _("把同一密钥填到公众平台「服务器配置」。")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("app_secret", "callback_token"):
            if not data.get(name) and not (self.editing and getattr(self.instance, name)):
                self.add_error(name, _("必填。"))
        mode = data.get("message_mode")
        has_key = data.get("encoding_aes_key") or (self.editing and self.instance.encoding_aes_key)
        if mode in (MessageMode.COMPATIBLE, MessageMode.SAFE) and not has_key:
            self.add_error("encoding_aes_key", _("兼容模式和安全模式需要 EncodingAESKey。"))
        if (data.get("quiet_start") is None) != (data.get("quiet_end") is None):
            self.add_error("quiet_end", _("免打扰需要同时填写开始和结束时间。"))
        return data

    def save(self, commit: bool = True) -> OfficialAccount:
        account: OfficialAccount = super().save(commit=False)
        new_key = self.cleaned_data.get("encoding_aes_key")
        if new_key and new_key != account.encoding_aes_key:
            # Keep the old key: pushes already in flight were encrypted with it.
            account.previous_encoding_aes_key = account.encoding_aes_key
            account.encoding_aes_key = new_key
        for name in ("app_secret", "callback_token"):
            if self.cleaned_data.get(name):
                setattr(account, name, self.cleaned_data[name])
        if commit:
            account.save()
        return account
