"""Daily rollups for the statistics pages, one row per (account, Beijing day, what was counted).

They are derived data: `rollups.py` computes a day from the raw events (subscription events, follower
changes, menu taps, deliveries) and replaces that day's rows, so the incremental refresh and a full rebuild give the
same rows by construction; the cursors say how far the refresh has read each raw table.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from wxnotify.accounts.models import OfficialAccount
from wxnotify.campaigns.models import Campaign
from wxnotify.engagement.models import MenuItem, MenuVersion
from wxnotify.subscriptions.models import Activity, Template


class Daily(models.Model):
    """One account's counts on one day (in the console's time zone)."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        abstract = True
        indexes = [models.Index(fields=["account", "day"], name="%(class)s_by_day")]


class SubscriptionDaily(Daily):
    """Accepts and rejections of one template on one day, by the activity that brought them (none: an article
    or WeChat's settings). `first_time`: accepts by people who had never accepted this template before."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="+")
    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, null=True, related_name="+")
    accepts = models.PositiveIntegerField(default=0)
    rejections = models.PositiveIntegerField(default=0)
    first_time = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} template {self.template_id}: +{self.accepts} −{self.rejections}"


class MenuDaily(Daily):
    """Taps on one menu item (its identity across renames and moves) in one menu version on one day, and how
    many different people tapped it that day. `item` is empty for a tap we could not place (an old menu)."""

    item = models.ForeignKey(MenuItem, on_delete=models.CASCADE, null=True, related_name="+")
    version = models.ForeignKey(MenuVersion, on_delete=models.CASCADE, null=True, related_name="+")
    taps = models.PositiveIntegerField(default=0)
    people = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} item {self.item_id}: {self.taps} taps"


class MenuMonthly(models.Model):
    """Taps on one menu item in one month (the 1st of it) and how many different people tapped it that month:
    people cannot be added up from days, so the months are counted on their own."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    item = models.ForeignKey(MenuItem, on_delete=models.CASCADE, null=True, related_name="+")
    taps = models.PositiveIntegerField(default=0)
    people = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["account", "month"], name="menu_monthly_by_month")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} item {self.item_id}: {self.taps} taps, {self.people} people"


class ClickDaily(Daily):
    """Taps on one send's link on one day, and how many different recipients tapped that day."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    taps = models.PositiveIntegerField(default=0)
    people = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} campaign {self.campaign_id}: {self.taps} taps"


class DeliveryDaily(Daily):
    """What became of one send's deliveries on one day: how many reached each outcome, by WeChat's error code
    (failures) or our reason (skips). The day is when the outcome was settled; `delivered` counts WeChat's
    delivery reports on the day they were sent."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("已发送")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", _("失败")
        SKIPPED = "skipped", _("已跳过")
        UNKNOWN = "unknown", _("结果未知")
        CANCELLED = "cancelled", _("已取消")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    errcode = models.IntegerField(null=True)
    reason = models.CharField(max_length=64, blank=True)  # why it was skipped (the engine's words)
    n = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} campaign {self.campaign_id}: {self.n} {self.outcome}"


class FollowDaily(Daily):
    """Follows and unfollows on one day by QR scene (blank: not from a QR code)."""

    scene = models.CharField(max_length=64, blank=True)
    follows = models.PositiveIntegerField(default=0)
    unfollows = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} {self.scene or '-'}: +{self.follows} −{self.unfollows}"


class RollupCursor(models.Model):
    """How far the refresh has read one raw table (its highest id seen)."""

    source = models.CharField(max_length=32, unique=True)
    last_id = models.BigIntegerField(default=0)
    # Deliveries change in place (no new ids): their refresh reads what changed since this moment instead.
    last_at = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.source} up to {self.last_id}"
