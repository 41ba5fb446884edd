"""What was done with a person's data on request or by the retention policy: who, when, why, how many rows
— and not who the person was (a keyed digest of the openid matches a later request for the same one)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount


class PrivacyAction(models.Model):
    class Kind(models.TextChoices):
        EXPORT = "export", _("导出个人信息")
        ERASE = "erase", _("删除个人信息")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    subject = models.CharField(max_length=16)  # services.digest(account, openid)
    why = models.CharField(_("原因"), max_length=200, blank=True)
    rows = models.JSONField(default=dict)  # per kind of row: how many were exported or erased
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def total(self) -> int:
        return sum(n for n in (self.rows or {}).values() if isinstance(n, int))
