"""API tokens: an integration (a booking system, a vendor's script) acts on one account as the person who
created its token, within the token's scopes. Only a digest of the secret is stored; the token is shown once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount


class Scope(models.TextChoices):
    READ = "read", _("读取")
    WRITE = "write", _("修改（活动、通知内容）")
    SEND = "send", _("发送（预览、审核、开始、暂停、取消）")


class ApiToken(models.Model):
    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=50)
    prefix = models.CharField(max_length=16, unique=True)  # shown in lists; finds the token without its secret
    digest = models.CharField(max_length=64)  # SHA-256 of the secret (random, 256 bits: no stretching needed)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def scope_labels(self) -> list[str]:
        labels = dict(Scope.choices)
        return [str(labels.get(s, s)) for s in self.scopes]
