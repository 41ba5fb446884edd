"""The raw inbound log: every accepted push, stored once however often WeChat retries it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount

# What each push is, in the operator's words (WeChat's own names stay visible beside them for engineers).
EVENT_NAMES = {
    "subscribe": _("关注"),
    "unsubscribe": _("取消关注"),
    "SCAN": _("已关注者扫码"),
    "LOCATION": _("上报地理位置"),
    "CLICK": _("点击菜单"),
    "VIEW": _("点击菜单链接"),
    "view_miniprogram": _("点击菜单打开小程序"),
    "scancode_push": _("菜单扫码"),
    "scancode_waitmsg": _("菜单扫码（等待回复）"),
    "pic_sysphoto": _("菜单拍照"),
    "pic_photo_or_album": _("菜单拍照或选图"),
    "pic_weixin": _("菜单从相册选图"),
    "location_select": _("菜单发送位置"),
    "subscribe_msg_popup_event": _("订阅通知弹窗选择"),
    "subscribe_msg_change_event": _("订阅通知设置变更"),
    "subscribe_msg_sent_event": _("订阅通知送达回执"),
    "TEMPLATESENDJOBFINISH": _("模板消息送达回执"),
    "MASSSENDJOBFINISH": _("群发结果"),
}
MESSAGE_NAMES = {
    "text": _("文字消息"),
    "image": _("图片消息"),
    "voice": _("语音消息"),
    "video": _("视频消息"),
    "shortvideo": _("小视频消息"),
    "location": _("位置消息"),
    "link": _("链接消息"),
    "event": _("事件"),
}


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

    @property
    def wechat_name(self) -> str:
        """WeChat's own name for it (its Event, or its MsgType)."""
        return self.event or self.msg_type

    @property
    def kind(self) -> str:
        """What it is in words; WeChat's name when we have no words for it."""
        if self.event:
            return str(EVENT_NAMES.get(self.event, self.event))
        return str(MESSAGE_NAMES.get(self.msg_type, self.msg_type))


class Refusal(models.TextChoices):
    """Why a push was refused. The HTTP status says who is at fault: 403 proof missing, 400 a bad body."""

    BAD_SIGNATURE = "bad_signature", _("签名不符")
    STALE_TIMESTAMP = "stale_timestamp", _("时间戳超出允许范围（过期或来自未来）")
    REPLAYED_NONCE = "replayed_nonce", _("重放：同一 nonce 已用于另一条消息")
    NOT_ENCRYPTED = "not_encrypted", _("未加密（账号为兼容或安全模式，须带 msg_signature）")
    BAD_MSG_SIGNATURE = "bad_msg_signature", _("密文签名（msg_signature）不符")
    CANNOT_DECRYPT = "cannot_decrypt", _("无法解密")
    NO_AES_KEY = "no_aes_key", _("加密消息，但未配置 EncodingAESKey")
    MALFORMED = "malformed", _("消息格式错误")
    TOO_LARGE = "too_large", _("消息过大")
    WRONG_ACCOUNT = "wrong_account", _("发给其他公众号（ToUserName 不符）")


class RefusedPushes(models.Model):
    """How many pushes were refused, per account, reason and minute: what the console shows an administrator
    ("refused pushes in the last hour, by reason") instead of a log line per refusal."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="refused_pushes")
    reason = models.CharField(_("原因"), max_length=32, choices=Refusal)
    minute = models.DateTimeField()  # the start of the minute, UTC
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "reason", "minute"], name="refused_once_a_minute")]
        indexes = [models.Index(fields=["account", "-minute"], name="refused_recent")]

    def __str__(self) -> str:
        return f"{self.reason} × {self.count} at {self.minute:%Y-%m-%d %H:%M}"


class PushNonce(models.Model):
    """The replay cache: the nonce of every accepted push while its timestamp is inside the window.

    In plaintext mode `signature` covers only token, timestamp and nonce, not the body: anyone who saw
    one push could post any body under its signature. A (nonce, timestamp) seen again with another body is
    refused; the same body again (WeChat's retry) goes through and is stored once, as before. The key holds
    the timestamp too: a replay must reuse it (the signature covers it), while two genuine pushes that drew
    the same 10-digit nonce — about one in 100,000 pushes within the window, as a big send's delivery
    reports are — almost never share the second as well (one was refused before). Rows whose timestamp has
    left the window are useless (such a push is refused anyway) and are pruned.
    """

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    timestamp = models.BigIntegerField()  # the signature's timestamp (seconds)
    digest = models.CharField(max_length=64)  # sha256 of the message the push carried (decrypted)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "nonce", "timestamp"], name="nonce_once")]
        indexes = [models.Index(fields=["timestamp"], name="nonce_by_time")]

    def __str__(self) -> str:
        return f"nonce {self.nonce} at {self.timestamp}"
