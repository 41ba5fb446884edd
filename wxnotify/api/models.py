"""API tokens: an integration (a booking system, a vendor's script) acts on one account as the person who
created its token, within the token's scopes. Only a digest of the secret is stored; the token is shown once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.fields import EncryptedTextField
from wxnotify.accounts.models import OfficialAccount


class Scope(models.TextChoices):
    READ = "read", _("读取")
    WRITE = "write", _("修改（活动、通知内容、提交审核）")
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


class ApiCall(models.Model):
    """Every authenticated call, with its token: which integration did what, when, and how it ended."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="calls")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    status = models.PositiveSmallIntegerField()
    idempotency_key = models.CharField(max_length=255, blank=True)
    replayed = models.BooleanField(default=False)  # answered from an earlier call with the same key
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"], name="api_calls_of_account")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class IdempotentRequest(models.Model):
    """A POST sent with an `Idempotency-Key`: the row is written before the work starts (so a second
    identical request in flight waits for it) and keeps the answer (so a retry gets it back)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body: the key means one request
    status = models.PositiveSmallIntegerField(null=True)  # None: still being answered
    body = models.BinaryField(blank=True, default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="one_request_per_key")]

    def __str__(self) -> str:
        return self.key


class Webhook(models.Model):
    """An account's endpoint for events (a send finished, halted, paused by WeChat's daily quota), signed
    with a secret of its own."""

    class Event(models.TextChoices):
        FINISHED = "campaign.finished", _("通知发送完成")
        HALTED = "campaign.halted", _("通知自动停止")
        PAUSED_BY_QUOTA = "campaign.paused_by_quota", _("通知因当日额度用完而暂停")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(_("接收地址"), max_length=500)
    secret = EncryptedTextField()  # signs each delivery; shown once when made, never again
    events = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: written in the transaction that made the event happen (so none is lost),
    sent by the worker, retried with growing pauses until the endpoint answers 2xx or attempts run out."""

    class State(models.TextChoices):
        PENDING = "pending", _("待发送")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", _("已放弃")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    event_id = models.CharField(max_length=40, unique=True)  # the receiver's de-duplication key
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["next_attempt_at"], name="webhooks_due", condition=models.Q(state="pending"))]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id}"
