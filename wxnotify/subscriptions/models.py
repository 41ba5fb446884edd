"""Templates synced from WeChat, activities, and the per-(patient, template) subscription ledger."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount
from wxnotify.console.links import web_link

CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/1/i/l/o: codes are read off posters


def new_activity_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class Template(models.Model):
    class Kind(models.IntegerChoices):
        LEGACY_ONE_TIME = 1, _("一次性订阅消息（旧版）")  # subscribemsg confirm link + template/subscribe
        ONE_TIME = 2, _("一次性订阅")
        LONG_TERM = 3, _("长期订阅")

    class Status(models.TextChoices):
        ACTIVE = "active", _("正常")
        DELETED = "deleted", _("已在微信删除")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="templates")
    template_id = models.CharField(_("模板 ID"), max_length=64)  # priTmplId
    title = models.CharField(_("标题"), max_length=100)
    content = models.TextField(_("内容"))
    example = models.TextField(_("示例"), blank=True)
    kind = models.PositiveSmallIntegerField(_("类型"), choices=Kind.choices)
    keywords = models.JSONField(default=list)  # [{"key": "thing1", "name": "疫苗名称", "rule": "thing"}]
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    changed_upstream_at = models.DateTimeField(_("微信端变更时间"), null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["account", "template_id"], name="one_template_per_id")]

    def __str__(self) -> str:
        return self.title

    @property
    def keys(self) -> list[str]:
        return [k["key"] for k in self.keywords]


class Activity(models.Model):
    class Kind(models.TextChoices):
        LIVE_LECTURE = "live_lecture", _("健康讲座直播")
        OFFLINE = "offline", _("线下活动（义诊等）")
        VACCINE = "vaccine", _("疫苗上线")
        CHECKUP = "checkup", _("体检套餐上架")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="activities")
    code = models.CharField(_("短码"), max_length=16, unique=True, default=new_activity_code)
    title = models.CharField(_("标题"), max_length=60)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    place = models.CharField(_("地点"), max_length=100, blank=True)
    live_url = models.URLField(_("直播或购买链接"), blank=True, validators=[web_link])
    description = models.TextField(_("简介"), blank=True)
    templates = models.ManyToManyField(Template, related_name="activities", verbose_name=_("订阅模板"))
    archived = models.BooleanField(_("已归档"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("活动")

    def __str__(self) -> str:
        return self.title

    # "Open" = patients may still subscribe from an article about it: not archived, not over.
    @staticmethod
    def open_q(now: object) -> Q:
        return Q(archived=False) & (Q(ends_at__gte=now) | Q(ends_at__isnull=True, starts_at__gte=now))


class Subscription(models.Model):
    """The ledger row of one patient (openid) and one template: what can be sent to them now."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="subscriptions")
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="subscriptions")
    openid = models.CharField(max_length=64)
    credits = models.PositiveIntegerField(_("可发送次数"), default=0)  # one-time: +1 per accept, −1 per send
    long_term_on = models.BooleanField(_("长期订阅开启"), default=False)
    # Older one-time subscription: one send per authorised scene; the same scene again adds nothing.
    legacy_scenes = models.JSONField(default=list, blank=True)
    accepts = models.PositiveIntegerField(_("累计同意次数"), default=0)
    first_accepted_at = models.DateTimeField(_("首次订阅"), null=True)
    last_accepted_at = models.DateTimeField(_("最近订阅"), null=True)
    rejected_at = models.DateTimeField(_("拒绝时间"), null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template", "openid"], name="one_ledger_row")]
        indexes = [models.Index(fields=["template", "credits", "long_term_on"], name="ledger_current")]

    def __str__(self) -> str:
        return f"{self.openid} / {self.template_id}"

    @property
    def can_receive(self) -> bool:
        return self.credits > 0 or self.long_term_on

    @staticmethod
    def current_q(prefix: str = "") -> Q:
        return Q(**{f"{prefix}credits__gt": 0}) | Q(**{f"{prefix}long_term_on": True})


class SubscriptionEvent(models.Model):
    """Why the ledger changed: accepts (with the activity they came from), rejections, sends."""

    class Kind(models.TextChoices):
        ACCEPT = "accept", _("同意")
        REJECT = "reject", _("弹窗拒绝")
        SETTINGS_REJECT = "settings_reject", _("在设置中关闭")
        ZEROED = "zeroed", _("微信答复 43101，清零")

    class Source(models.TextChoices):
        H5 = "h5", _("H5 活动页")
        ARTICLE = "article", _("图文内订阅")
        CONFIRM_LINK = "confirm_link", _("一次性订阅链接")
        SETTINGS = "settings", _("微信设置")
        SENDING = "sending", _("发送结果")
        OTHER = "other", _("其他")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="subscription_events")
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="events")
    openid = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    activity = models.ForeignKey(Activity, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    occurred_at = models.DateTimeField()
    inbound = models.ForeignKey("callbacks.InboundMessage", on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["activity", "template", "kind"], name="events_by_activity"),
            models.Index(fields=["template", "kind", "occurred_at"], name="events_by_month"),
            # Has this person accepted this template before? (first-time subscribers in the statistics)
            models.Index(fields=["template", "openid", "occurred_at"], name="events_by_person"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.openid} {self.template_id}"


class PageVisit(models.Model):
    """A patient (known by OAuth) opened an activity's subscribe page: attributes their H5 popup accepts."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="page_visits")
    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="visits")
    openid = models.CharField(max_length=64)
    visited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "openid", "visited_at"], name="visits_by_patient")]

    def __str__(self) -> str:
        return f"{self.openid} → {self.activity_id}"
