"""Campaigns, one delivery row per (campaign, recipient), and the audit log of who did what."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount
from wxnotify.console.links import web_link
from wxnotify.subscriptions.models import Activity, Template


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("草稿")
        AWAITING_APPROVAL = "awaiting_approval", _("待审核")
        APPROVED = "approved", _("已审核")
        SCHEDULED = "scheduled", _("已定时")
        SENDING = "sending", _("发送中")
        PAUSED = "paused", _("已暂停")
        HALTED = "halted", _("已自动停止")
        COMPLETED = "completed", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    class Audience(models.TextChoices):
        ACTIVITY = "activity", _("活动的当前订阅者")
        TEMPLATE = "template", _("模板的当前订阅者")
        REACHED_BY = "reached_by", _("某次发送已送达的人（更正通知）")
        PREVIEWERS = "previewers", _("预览人")
        NOT_YET_SENT = "not_yet_sent", _("某次发送之后新订阅、尚未发送的人")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(_("名称"), max_length=100)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("模板"))
    audience = models.CharField(_("接收人"), max_length=16, choices=Audience.choices)
    activity = models.ForeignKey(
        Activity, on_delete=models.SET_NULL, null=True, blank=True, related_name="campaigns", verbose_name=_("活动")
    )
    source_campaign = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("针对哪次发送（补发或更正时选择）"),
    )
    data = models.JSONField(_("字段内容"), default=dict)
    # The older one-time subscription message has a title of its own (≤15 characters) and one `content` field.
    title = models.CharField(_("标题（旧版一次性订阅消息）"), max_length=15, blank=True)
    # WeChat delivers to people who no longer follow (in 服务通知); by default a send skips them.
    include_unfollowed = models.BooleanField(_("也发给已取消关注的人"), default=False)
    page = models.URLField(_("跳转网页"), blank=True, max_length=1024, validators=[web_link])
    miniprogram_appid = models.CharField(_("小程序 AppID"), max_length=32, blank=True)
    miniprogram_pagepath = models.CharField(_("小程序页面"), max_length=255, blank=True)
    strict = models.BooleanField(_("严格模式（任何失败即停止）"), default=False)
    # Canary: send to the first N, then pause until an operator says "continue" (resume).
    canary_count = models.PositiveIntegerField(_("先发送给多少人后暂停确认"), null=True, blank=True)
    # … or to the first x% of the audience, turned into canary_count when the send starts.
    canary_percent = models.PositiveSmallIntegerField(
        _("先发送给百分之多少的人后暂停确认"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
    )
    canary_released = models.BooleanField(default=False)
    max_recipient_error_rate = models.FloatField(_("接收人失败率上限"), default=0.2)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.DRAFT)
    stop_reason = models.TextField(_("停止原因"), blank=True)
    stop_errcode = models.IntegerField(null=True, blank=True)
    scheduled_at = models.DateTimeField(_("定时发送"), null=True, blank=True)
    # "30 minutes before the activity starts": turned into scheduled_at when the send is scheduled.
    minutes_before_start = models.PositiveIntegerField(_("活动开始前多少分钟发送"), null=True, blank=True)
    approved_snapshot = models.JSONField(null=True, blank=True)  # the content an approver saw, frozen
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who last changed the content: under the two-person rule they cannot approve their own change.
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    woken_at = models.DateTimeField(null=True, blank=True)  # workers last asked to work on it (see revive_stalled)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "scheduled_at"], name="campaigns_due")]

    def __str__(self) -> str:
        return self.name

    def snapshot(self) -> dict[str, Any]:
        """Everything that decides what patients see; approval freezes it, sending uses it."""
        return {
            "template_id": self.template.template_id,
            "data": dict(sorted(self.data.items())),
            **({"title": self.title} if self.title else {}),  # absent when empty: older snapshots stay equal
            "page": self.page,
            "miniprogram": {"appid": self.miniprogram_appid, "pagepath": self.miniprogram_pagepath}
            if self.miniprogram_appid
            else None,
        }

    @property
    def skips_unfollowed(self) -> bool:
        """People who unfollowed are left out unless asked (previews go to staff whatever they follow)."""
        return not self.include_unfollowed and self.audience != Campaign.Audience.PREVIEWERS

    @staticmethod
    def snapshot_digest(snapshot: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(snapshot, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("待发送")
        CLAIMED = "claimed", _("已领取")  # leased by a worker, request not yet sent
        SENDING = "sending", _("发送中")  # the request may be on its way
        SENT = "sent", _("已发送")
        FAILED = "failed", _("失败")
        SKIPPED = "skipped", _("已跳过")
        UNKNOWN = "unknown", _("结果未知")
        CANCELLED = "cancelled", _("已取消")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    openid = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    errcode = models.IntegerField(null=True, blank=True)
    errmsg = models.CharField(max_length=255, blank=True)
    msgid = models.BigIntegerField(null=True, blank=True)
    # Older one-time subscription message: the authorised scene this send uses (one send per scene).
    scene = models.IntegerField(null=True, blank=True)
    worker = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)  # WeChat's subscribe_msg_sent_event arrived

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "openid"], name="one_delivery_per_recipient")]
        indexes = [
            # A claim takes a campaign's pending rows in id order, the log pages a state's rows by id: both
            # walk this index from where they are (with next_attempt_at in the key instead, a claim late in
            # a 300,000-row send walked every row already sent).
            models.Index(fields=["campaign", "state", "id"], name="deliveries_by_state"),
            # Only rows in flight have a lease, only sent ones a msgid: partial indexes stay small, and the
            # 300,000 rows a send starts with cost nothing in them.
            models.Index(
                fields=["state", "lease_until"], name="deliveries_leases", condition=models.Q(lease_until__isnull=False)
            ),
            models.Index(fields=["msgid"], name="deliveries_by_msgid", condition=models.Q(msgid__isnull=False)),
            # A send's latest WeChat delivery reports, for the statistics' refresh (one probe per recent send);
            # the sender never writes confirmed_at, so its rows cost nothing here.
            models.Index(
                fields=["campaign", "confirmed_at"],
                name="deliveries_confirmed",
                condition=models.Q(confirmed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.openid}: {self.state}"


class DeliveryTally(models.Model):
    """How many deliveries of a campaign are in each state, kept in step by every write that moves one
    (in the same transaction): progress and the lists read these rows, never a count over the deliveries."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tally")
    state = models.CharField(max_length=10, choices=Delivery.State.choices)
    n = models.BigIntegerField(default=0)
    # When a row of this campaign last moved: the statistics' refresh recounts only campaigns that changed.
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "state"], name="one_tally_per_state")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.state}: {self.n}"


class Previewer(models.Model):
    """A staff member whose WeChat receives previews before a send."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="previewers")
    name = models.CharField(_("姓名"), max_length=50)
    openid = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "openid"], name="one_previewer_per_openid")]

    def __str__(self) -> str:
        return self.name


class Action(models.TextChoices):
    """What can happen to a campaign, by a person or by the system (`lifecycle.TRANSITIONS` says which
    states each leaves and who may take it); the audit log names each entry with one of these."""

    EDIT = "edit", _("修改内容")
    SUBMIT = "submit", _("提交审核")
    APPROVE = "approve", _("审核通过")
    PREVIEW = "preview", _("发送预览")
    SEND = "send", _("开始发送")
    SCHEDULE = "schedule", _("定时发送")
    RESCHEDULE = "reschedule", _("活动时间变更，发送时间随之调整")
    PAUSE = "pause", _("暂停")
    RESUME = "resume", _("继续发送")
    CANCEL = "cancel", _("取消发送")
    RETRY_UNKNOWN = "retry_unknown", _("重发结果未知的")
    RETRY_FAILED_TRANSIENT = "retry_failed_transient", _("重发因临时故障失败的")
    AUTO_HALTED = "auto_halted", _("自动停止")
    AUTO_PAUSED = "auto_paused", _("自动暂停")
    AUTO_RESUMED = "auto_resumed", _("自动继续（免打扰结束或新一天的额度）")
    COMPLETED = "completed", _("发送完成")
    REVIVE = "revive", _("无进程在发送，已自动唤醒")


class Click(models.Model):
    """A recipient tapped the notification's web link (our signed redirect, `clicks.py`): every tap counts,
    each person once per send through `delivery`."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="clicks")
    delivery = models.ForeignKey("Delivery", on_delete=models.CASCADE, related_name="clicks")
    openid = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "at"], name="clicks_by_campaign"),
            models.Index(fields=["account", "at"], name="clicks_by_time"),
        ]

    def __str__(self) -> str:
        return f"{self.openid} tapped {self.campaign_id} at {self.at:%Y-%m-%d %H:%M}"


class AuditEntry(models.Model):
    """Every send, approval, pause, resume and cancel: who, what, when; automatic ones have no user."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="audit_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    action = models.CharField(max_length=32, choices=Action)
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit")
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.action}"

    @property
    def label(self) -> str:
        if self.action == Action.CANCEL and (self.detail or {}).get("draft"):
            return gettext("删除草稿")
        return str(Action(self.action).label) if self.action in Action.values else self.action

    @property
    def content(self) -> dict[str, Any] | None:
        """The content this entry wrote, approved or sent (older entries kept only its digest)."""
        snapshot = (self.detail or {}).get("snapshot")
        return snapshot if isinstance(snapshot, dict) else None

    @property
    def summary(self) -> str:
        """The detail in a line: recipients, reason, scheduled time, how many retried."""
        d = self.detail or {}
        parts = [str(d["reason"])] if d.get("reason") else []
        if d.get("recipients") is not None:
            parts.append(gettext("%(n)s 位接收人") % {"n": d["recipients"]})
        if d.get("skipped"):  # in the target but unable to receive it: in the log as skipped
            parts.append(gettext("%(n)s 人跳过") % {"n": d["skipped"]})
        if d.get("deliveries") is not None:
            parts.append(gettext("%(n)s 条") % {"n": d["deliveries"]})
        if d.get("at"):  # stored as ISO in UTC; shown in the console's time zone like every other time
            parts.append(f"{timezone.localtime(datetime.fromisoformat(d['at'])):%Y-%m-%d %H:%M}")
        if d.get("digest"):
            # Which content it concerns (the snapshot's digest): a later edit shows another version.
            said = (
                gettext("审核通过的内容版本 #%(digest)s")
                if self.action == Action.APPROVE
                else gettext("内容版本 #%(digest)s")
            )
            parts.append(said % {"digest": str(d["digest"])[:8]})
        if isinstance(stalled := d.get("stalled"), dict):  # a revival: what nobody was working on
            labels = dict(Delivery.State.choices)
            held = "、".join(f"{labels.get(k, k)} {n}" for k, n in (stalled.get("by_state") or {}).items())
            parts.append(gettext("无人处理的：%(rows)s") % {"rows": held or "—"})
            if stalled.get("workers"):
                parts.append(gettext("最后的工作进程：%(w)s") % {"w": ", ".join(stalled["workers"])})
        if isinstance(via := d.get("via"), dict):  # taken through the API, with this token
            parts.append(gettext("通过 API 令牌「%(name)s」(%(prefix)s)") % via)
        return " · ".join(parts)
