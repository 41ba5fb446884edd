"""A follower per (account, openid) with its current state, and the history that led there."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount

# WeChat's subscribe_scene values, in the operator's words.
SOURCES = {
    "ADD_SCENE_SEARCH": _("搜索公众号"),
    "ADD_SCENE_ACCOUNT_MIGRATION": _("公众号迁移"),
    "ADD_SCENE_PROFILE_CARD": _("名片分享"),
    "ADD_SCENE_QR_CODE": _("扫描二维码"),
    "ADD_SCENE_PROFILE_LINK": _("文章内名称"),
    "ADD_SCENE_PROFILE_ITEM": _("文章右上角菜单"),
    "ADD_SCENE_PAID": _("支付后关注"),
    "ADD_SCENE_WECHAT_ADVERTISEMENT": _("微信广告"),
    "ADD_SCENE_REPRINT": _("他人转载"),
    "ADD_SCENE_LIVESTREAM": _("视频号直播"),
    "ADD_SCENE_CHANNELS": _("视频号"),
    "ADD_SCENE_WXA": _("小程序关注"),
    "ADD_SCENE_OTHERS": _("其他"),
}


class Follower(models.Model):
    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="followers")
    openid = models.CharField(max_length=64)
    is_following = models.BooleanField(_("关注中"), default=True)
    first_followed_at = models.DateTimeField(_("首次关注"), null=True)
    followed_at = models.DateTimeField(_("最近关注"), null=True)
    unfollowed_at = models.DateTimeField(_("取消关注"), null=True)
    qr_scene = models.CharField(_("关注来源场景"), max_length=64, blank=True)
    # How they came to follow, in WeChat's words (subscribe_scene from user/info): only a sync learns it.
    source = models.CharField(_("关注渠道"), max_length=40, blank=True)
    # Time of the newest follow/unfollow applied: an older event arriving late must not undo it.
    state_changed_at = models.DateTimeField(null=True)
    synced_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "openid"], name="one_follower_per_openid")]
        indexes = [models.Index(fields=["account", "is_following"], name="followers_current")]

    def __str__(self) -> str:
        return self.openid

    @property
    def source_label(self) -> str:
        return str(SOURCES.get(self.source, self.source))


class FollowerChange(models.Model):
    class Kind(models.TextChoices):
        FOLLOW = "follow", _("关注")
        UNFOLLOW = "unfollow", _("取消关注")
        SCAN = "scan", _("扫码")
        SYNC_FOUND = "sync_found", _("同步：在列表中")
        SYNC_MISSING = "sync_missing", _("同步：不在列表中")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="follower_changes")
    follower = models.ForeignKey(Follower, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(_("变化"), max_length=16, choices=Kind.choices)
    qr_scene = models.CharField(_("场景"), max_length=64, blank=True)
    occurred_at = models.DateTimeField(_("时间"))
    inbound = models.ForeignKey("callbacks.InboundMessage", on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["account", "kind", "occurred_at"], name="follower_changes_by_day")]

    def __str__(self) -> str:
        return f"{self.kind} {self.follower_id} at {self.occurred_at:%Y-%m-%d %H:%M}"
