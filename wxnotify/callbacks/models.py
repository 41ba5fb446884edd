"""The raw inbound log (L3): every accepted push, stored once however often WeChat retries it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount


class InboundMessage(models.Model):
    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="inbound_messages")
    dedupe_key = models.CharField(max_length=64)
    msg_type = models.CharField(_("消息类型"), max_length=32)
    event = models.CharField(_("事件"), max_length=64, blank=True)
    openid = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("微信时间"))  # CreateTime of the push
    received_at = models.DateTimeField(_("收到时间"), auto_now_add=True)
    times_received = models.PositiveIntegerField(_("收到次数"), default=1)  # > 1: WeChat retried
    encrypted = models.BooleanField(default=False)
    body = models.TextField()  # the plaintext XML (decrypted when it came encrypted)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["account", "dedupe_key"], name="inbound_once")]
        indexes = [
            models.Index(fields=["account", "-id"], name="inbound_recent"),
            models.Index(fields=["account", "openid"], name="inbound_by_openid"),
        ]

    def __str__(self) -> str:
        return f"{self.msg_type}/{self.event} from {self.openid}"
