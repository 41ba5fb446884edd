"""Official accounts, who may work on them, and the access token they share."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.fields import EncryptedTextField

appid_validator = RegexValidator(r"^wx[0-9a-zA-Z]{16}$", _("AppID 以 wx 开头，共 18 位字母或数字。"))
original_id_validator = RegexValidator(r"^gh_[0-9a-zA-Z]{6,32}$", _("原始 ID 以 gh_ 开头。"))
token_validator = RegexValidator(r"^[0-9a-zA-Z]{3,32}$", _("令牌（Token）为 3–32 位字母或数字。"))
aes_key_validator = RegexValidator(r"^[0-9a-zA-Z]{43}$", _("EncodingAESKey 为 43 位字母或数字。"))


class MessageMode(models.TextChoices):
    PLAINTEXT = "plaintext", _("明文模式")
    COMPATIBLE = "compatible", _("兼容模式")
    SAFE = "safe", _("安全模式")


class OfficialAccount(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    appid = models.CharField(_("AppID"), max_length=32, unique=True, validators=[appid_validator])
    original_id = models.CharField(_("原始 ID"), max_length=40, unique=True, validators=[original_id_validator])
    app_secret = EncryptedTextField(_("AppSecret"))
    callback_token = EncryptedTextField(_("令牌（Token）"))
    encoding_aes_key = EncryptedTextField(_("消息加解密密钥（EncodingAESKey）"), blank=True)
    # Kept after a key change: WeChat may still push messages encrypted with it for a while.
    previous_encoding_aes_key = EncryptedTextField(_("上一个 EncodingAESKey"), blank=True)
    message_mode = models.CharField(_("消息加解密方式"), max_length=16, choices=MessageMode)
    # The fixed template id of the older one-time subscription message (公众平台「接口权限」), if used.
    one_time_template_id = models.CharField(_("一次性订阅消息模板 ID"), max_length=64, blank=True)
    # Quiet hours (Beijing time): sends wait, scheduling warns. Both empty: no quiet hours.
    quiet_start = models.TimeField(_("免打扰开始"), null=True, blank=True)
    quiet_end = models.TimeField(_("免打扰结束"), null=True, blank=True)
    # WeChat caps sends per account, not per process: every worker shares this rate (empty: the site default).
    send_rate = models.PositiveIntegerField(_("每秒发送上限"), null=True, blank=True)
    # Two-person rule: a notification needs approval by someone other than its author.
    require_second_approver = models.BooleanField(_("发送前需要另一人审核"), default=False)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("公众号")
        verbose_name_plural = _("公众号")

    def __str__(self) -> str:
        return f"{self.name} ({self.appid})"

    def in_quiet_hours(self, at: datetime) -> bool:
        if self.quiet_start is None or self.quiet_end is None:
            return False
        local = timezone.localtime(at).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end  # e.g. 22:00–07:00

    @property
    def encoding_aes_keys(self) -> list[str]:
        return [k for k in (self.encoding_aes_key, self.previous_encoding_aes_key) if k]


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("管理员")
    OPERATOR = "operator", _("运营")
    APPROVER = "approver", _("审核")
    VIEWER = "viewer", _("只读")


class Membership(models.Model):
    """A user's role on one account. Superusers act as administrators of every account."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("角色"), max_length=16, choices=Role)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="one_membership_per_account")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account.appid}: {self.role}"


class SharedCredential(models.Model):
    """The one access token (or jsapi_ticket) an account's processes share.

    `generation` grows with every refresh; a process refreshes only after winning a conditional
    UPDATE on it, so many workers hitting 40001 at once cause one refresh, not many.
    """

    class Kind(models.TextChoices):
        ACCESS_TOKEN = "access_token"  # noqa: S105 - a kind name, not a value
        JSAPI_TICKET = "jsapi_ticket"

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="credentials")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = EncryptedTextField(blank=True)
    expires_at = models.DateTimeField(null=True)
    generation = models.PositiveIntegerField(default=0)
    refreshing_until = models.DateTimeField(null=True)  # lease of the process now refreshing
    refreshed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "kind"], name="one_credential_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} of account {self.account_id} (generation {self.generation})"
