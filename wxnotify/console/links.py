"""The one check for a link an operator enters and a patient will open: http(s) only.

Django's URLValidator also takes ftp:// and ftps://, which WeChat's in-app browser does not open and
which nobody means for a patient. Every form and model field holding such a link uses these.
"""

from __future__ import annotations

from django import forms
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

web_link = URLValidator(schemes=["http", "https"], message=_("请填写以 http:// 或 https:// 开头的网址。"))


class WebLinkField(forms.URLField):
    default_validators = [web_link]
    default_error_messages = {"invalid": web_link.message}  # the field's "Enter a valid URL" would replace ours

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("assume_scheme", "https")
        super().__init__(**kwargs)  # type: ignore[arg-type]
