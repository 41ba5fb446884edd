"""Follower engagement: the welcome and its second message, keyword replies, the custom menu.

Replies are computed inside the callback's 5 seconds from the account's rules held in memory
(`ruleset.py`); `RuleSet.version` tells every process when its copy is stale. The menu keeps every
published version; a `MenuItem` is an item's identity across versions, so a renamed or moved item
keeps its history, and every tap (`MenuTap`) is resolved to the item and version live at the time.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from wechat.replies import Article, NewsReply, Reply, TextReply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.console.links import web_link

# WeChat's limits on a reply (docs/wechat-protocol.md §6, §7): a text reply up to 2,048 bytes; a news card's
# title and description are cut on the phone beyond about 64 and 120 characters.
TEXT_MAX = 600
TITLE_MAX = 64
DESCRIPTION_MAX = 120


class ReplyKind(models.TextChoices):
    NONE = "none", _("不回复")
    TEXT = "text", _("文字")
    NEWS = "news", _("图文")


class ReplyContent(models.Model):
    """A reply: a text, or a 图文 card of one article (WeChat's limit since 2018)."""

    reply_kind = models.CharField(_("回复类型"), max_length=8, choices=ReplyKind, default=ReplyKind.TEXT)
    text = models.TextField(_("文字内容"), max_length=TEXT_MAX, blank=True)
    title = models.CharField(_("图文标题"), max_length=TITLE_MAX, blank=True)
    description = models.CharField(_("图文摘要"), max_length=DESCRIPTION_MAX, blank=True)
    pic_url = models.URLField(_("封面图片地址"), max_length=1024, blank=True, validators=[web_link])
    url = models.URLField(_("点击后打开的网页"), max_length=1024, blank=True, validators=[web_link])

    class Meta:
        abstract = True

    def as_reply(self) -> Reply | None:
        if self.reply_kind == ReplyKind.TEXT and self.text.strip():
            return TextReply(self.text.strip())
        if self.reply_kind == ReplyKind.NEWS and self.title.strip():
            return NewsReply(Article(self.title.strip(), self.description, self.pic_url, self.url))
        return None


class Welcome(ReplyContent):
    """What a follow is answered with: the passive reply (text or 图文) and a second 图文 right after it."""

    class When(models.TextChoices):
        ANY = "any", _("每次关注")
        FIRST = "first", _("首次关注")
        AGAIN = "again", _("再次关注（取消后又关注）")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="welcomes")
    scene = models.CharField(
        _("二维码场景"),
        max_length=64,
        blank=True,
        help_text=_("留空：适用于所有关注；填写：只用于扫这个场景的带参数二维码关注。"),
    )
    when = models.CharField(_("适用于"), max_length=8, choices=When.choices, default=When.ANY)
    enabled = models.BooleanField(_("启用"), default=True)
    second_enabled = models.BooleanField(_("关注后再发一条图文"), default=False)
    second_title = models.CharField(_("第二条：标题"), max_length=TITLE_MAX, blank=True)
    second_description = models.CharField(_("第二条：摘要"), max_length=DESCRIPTION_MAX, blank=True)
    second_pic_url = models.URLField(_("第二条：封面图片地址"), max_length=1024, blank=True, validators=[web_link])
    second_url = models.URLField(_("第二条：点击后打开的网页"), max_length=1024, blank=True, validators=[web_link])
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["scene", "when"]
        constraints = [models.UniqueConstraint(fields=["account", "scene", "when"], name="one_welcome_per_case")]

    def __str__(self) -> str:
        return f"{self.scene or '*'}/{self.when}"

    def second_article(self) -> Article | None:
        if not (self.second_enabled and self.second_title.strip()):
            return None
        return Article(self.second_title.strip(), self.second_description, self.second_pic_url, self.second_url)


class SecondMessage(models.Model):
    """The second 图文 of a welcome (or a test of it), sent by the worker through custom/send."""

    class State(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("未送达")
        SKIPPED = "skipped", _("未发送")
        UNKNOWN = "unknown", _("结果未知")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="second_messages")
    welcome = models.ForeignKey(Welcome, on_delete=models.SET_NULL, null=True, blank=True, related_name="sent")
    openid = models.CharField(max_length=64)
    # The follow push that asked for it: one per push, whatever WeChat retries. None for a test.
    inbound = models.OneToOneField("callbacks.InboundMessage", on_delete=models.SET_NULL, null=True, blank=True)
    is_test = models.BooleanField(default=False)
    # what was (to be) sent, as custom/send takes it: {"msgtype": "news", "news": {"articles": [...]}} or text
    content = models.JSONField(default=dict)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    errcode = models.IntegerField(null=True, blank=True)
    errmsg = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"], name="second_messages_recent")]

    def __str__(self) -> str:
        return f"{self.openid} {self.state}"


class KeywordRule(ReplyContent):
    class Match(models.TextChoices):
        EXACT = "exact", _("完全匹配")
        CONTAINS = "contains", _("包含关键词")
        CLICK = "click", _("菜单点击（按菜单的 key）")
        DEFAULT = "default", _("其他消息（默认回复）")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="keyword_rules")
    name = models.CharField(_("规则名称"), max_length=60)
    match = models.CharField(_("匹配方式"), max_length=8, choices=Match.choices, default=Match.CONTAINS)
    keywords = models.TextField(
        _("关键词"), blank=True, help_text=_("每行一个；任一个匹配即回复。菜单点击填菜单的 key。")
    )
    priority = models.PositiveIntegerField(_("优先级"), default=100, help_text=_("数字小的先匹配。"))
    enabled = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]
        indexes = [models.Index(fields=["account", "priority"], name="rules_in_order")]

    def __str__(self) -> str:
        return self.name

    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.splitlines() if k.strip()]


class RuleSet(models.Model):
    """The version of an account's replies (keyword rules and welcomes): every change gives it a new random
    stamp, and every web process compares it with the copy it holds before answering, so a change is seen
    everywhere at once. Random, not a counter: an account created anew under a reused id starts afresh."""

    account = models.OneToOneField(OfficialAccount, on_delete=models.CASCADE, related_name="rule_set")
    stamp = models.UUIDField(default=uuid.uuid4)

    def __str__(self) -> str:
        return str(self.stamp)


class ReplyHit(models.Model):
    """A keyword rule answered a message (at most once per message: only a push stored the first time runs)."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(KeywordRule, on_delete=models.CASCADE, related_name="hits")
    inbound = models.OneToOneField("callbacks.InboundMessage", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["rule", "at"], name="hits_by_rule")]

    def __str__(self) -> str:
        return f"{self.rule_id} at {self.at:%Y-%m-%d %H:%M}"


# --- the custom menu -----------------------------------------------------------------------------


class MenuItem(models.Model):
    """An item's identity across menu versions: a rename or a move keeps it, and with it the item's taps."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="menu_items")
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.uid)


class MenuVersion(models.Model):
    class Source(models.TextChoices):
        PUBLISHED = "published", _("从本系统发布")
        IMPORTED = "imported", _("从微信导入")

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="menu_versions")
    number = models.PositiveIntegerField(_("版本"))
    source = models.CharField(_("来源"), max_length=12, choices=Source.choices)
    live_from = models.DateTimeField(_("生效时间"))  # taps from then on belong to this version
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    menu_id = models.BigIntegerField(null=True, blank=True)  # WeChat's menuid (menu/get), also in VIEW events
    buttons = models.JSONField(default=list)  # exactly what WeChat has: {"button": …}'s list

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["account", "number"], name="one_menu_version_number")]
        indexes = [models.Index(fields=["account", "-live_from"], name="menu_versions_by_time")]

    def __str__(self) -> str:
        return f"v{self.number}"


class MenuVersionItem(models.Model):
    """An item as it was in one version: its name, type, what it opens, and where it stood."""

    version = models.ForeignKey(MenuVersion, on_delete=models.CASCADE, related_name="items")
    item = models.ForeignKey(MenuItem, on_delete=models.PROTECT, related_name="versions")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(_("名称"), max_length=60)
    type = models.CharField(_("类型"), max_length=24, blank=True)  # blank: a parent with sub-items
    key = models.CharField(max_length=128, blank=True)
    url = models.CharField(max_length=1024, blank=True)
    appid = models.CharField(max_length=32, blank=True)
    pagepath = models.CharField(max_length=255, blank=True)
    media_id = models.CharField(max_length=128, blank=True)
    article_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["version", "parent_id", "position"]

    def __str__(self) -> str:
        return self.name


class MenuDraft(models.Model):
    """The menu being edited: rows as the editor posts them, not yet on WeChat."""

    account = models.OneToOneField(OfficialAccount, on_delete=models.CASCADE, related_name="menu_draft")
    rows = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    def __str__(self) -> str:
        return f"draft of {self.account_id}"


class MenuTap(models.Model):
    """A patient tapped a menu item (CLICK, VIEW and the other menu events), stored once per push and resolved
    to the item and the version live when they tapped. WeChat has no menu analytics: this is where they come from."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="menu_taps")
    inbound = models.OneToOneField("callbacks.InboundMessage", on_delete=models.CASCADE, related_name="+")
    openid = models.CharField(max_length=64)
    at = models.DateTimeField()  # the event's CreateTime
    event = models.CharField(max_length=32)  # CLICK, VIEW, view_miniprogram, scancode_push, …
    value = models.CharField(max_length=1024, blank=True)  # the key, URL or page path the event carried
    item = models.ForeignKey(MenuItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="taps")
    version = models.ForeignKey(MenuVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="taps")

    class Meta:
        indexes = [
            models.Index(fields=["account", "at"], name="menu_taps_by_time"),
            models.Index(fields=["item", "at"], name="menu_taps_by_item"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.value} at {self.at:%Y-%m-%d %H:%M}"


def custom_content(reply: Reply | Article) -> dict[str, Any]:
    """What custom/send takes for a reply or an article (docs/wechat-protocol.md §7): news with one article, or text."""
    if isinstance(reply, TextReply):
        return {"msgtype": "text", "text": {"content": reply.content}}
    article = reply.article if isinstance(reply, NewsReply) else reply
    item = {"title": article.title, "description": article.description, "url": article.url, "picurl": article.pic_url}
    return {"msgtype": "news", "news": {"articles": [item]}}
