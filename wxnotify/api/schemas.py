"""What the API answers, as OpenAPI schemas (pydantic, through django-ninja)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema


class Problem(Schema):
    field: str | None
    message: str


class Error(Schema):
    code: str = Field(description="Stable, for programs: unauthorized, scope, forbidden, not_found, invalid, state, …")
    message: str = Field(description="For people, in the caller's language (Accept-Language; zh-Hans by default)")
    field: str | None = None
    errors: list[Problem] | None = Field(None, description="A rejected form's every problem (the first is `message`)")


class Me(Schema):
    account: str
    appid: str
    token: str
    scopes: list[str]
    acts_as: str
    role: str


class Keyword(Schema):
    key: str
    name: str
    rule: str


class Subscribers(Schema):
    historical: int  # ever accepted
    current: int  # can receive a notification now


class TemplateOut(Schema):
    id: int
    template_id: str
    title: str
    kind: str
    status: str
    keywords: list[Keyword]
    subscribers: Subscribers


class ActivityOut(Schema):
    id: int
    code: str
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    place: str
    page_url: str
    templates: list[str]


class ActivityDetail(ActivityOut):
    description: str
    live_url: str
    qr_png: str
    qr_svg: str
    poster: str
    subscribers: dict[str, Subscribers]  # per template id: those whose subscription came from this activity


class ActivityIn(Schema):
    title: str
    kind: Literal["live_lecture", "offline", "vaccine", "checkup"]
    starts_at: datetime
    ends_at: datetime | None = None
    place: str = ""
    live_url: str = ""
    description: str = ""
    templates: list[str] = Field(description="WeChat template ids (at most 5, one-time and long-term not mixed)")


class ActivityPatch(Schema):
    title: str | None = None
    kind: Literal["live_lecture", "offline", "vaccine", "checkup"] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str | None = None
    live_url: str | None = None
    description: str | None = None
    templates: list[str] | None = None


class SubscriberOut(Schema):
    id: int
    openid: str
    template_id: str
    can_receive: bool
    credits: int
    long_term_on: bool
    accepts: int
    first_accepted_at: datetime | None
    last_accepted_at: datetime | None


class SubscriberPage(Schema):
    items: list[SubscriberOut]
    next_before: int | None = Field(description="Pass as `before` for the next page; null on the last")


Audience = Literal["activity", "template", "reached_by", "not_yet_sent"]


class CampaignIn(Schema):
    name: str
    template: str = Field(description="The WeChat template id")
    audience: Audience
    activity: int | None = Field(None, description="Required for audience=activity")
    source_campaign: int | None = Field(None, description="Required for reached_by and not_yet_sent")
    fields: dict[str, str] = Field(default_factory=dict, description="The template's keyword values, by key")
    title: str = Field("", description="The older one-time message's title only")
    page: str = ""
    miniprogram_appid: str = ""
    miniprogram_pagepath: str = ""
    strict: bool = False
    max_recipient_error_rate: float = 0.2
    scheduled_at: datetime | None = None
    minutes_before_start: int | None = None
    canary_count: int | None = None
    canary_percent: int | None = None
    include_unfollowed: bool = False


class CampaignPatch(Schema):
    name: str | None = None
    template: str | None = None
    audience: Audience | None = None
    activity: int | None = None
    source_campaign: int | None = None
    fields: dict[str, str] | None = None
    title: str | None = None
    page: str | None = None
    miniprogram_appid: str | None = None
    miniprogram_pagepath: str | None = None
    strict: bool | None = None
    max_recipient_error_rate: float | None = None
    scheduled_at: datetime | None = None
    minutes_before_start: int | None = None
    canary_count: int | None = None
    canary_percent: int | None = None
    include_unfollowed: bool | None = None


class Progress(Schema):
    total: int
    pending: int
    claimed: int
    sending: int
    sent: int
    failed: int
    skipped: int
    unknown: int
    cancelled: int
    percent: int
    remaining: int
    rate: float | None = Field(description="Sent per second while sending")
    eta_seconds: int | None


class CampaignOut(Schema):
    id: int
    name: str
    state: str
    state_label: str
    template: str
    audience: str
    activity: int | None
    source_campaign: int | None
    fields: dict[str, str]
    title: str
    page: str
    miniprogram_appid: str
    miniprogram_pagepath: str
    strict: bool
    max_recipient_error_rate: float
    include_unfollowed: bool
    scheduled_at: datetime | None
    minutes_before_start: int | None
    canary_count: int | None
    canary_percent: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stop_reason: str
    stop_errcode: int | None
    progress: Progress
    actions: list[str] = Field(description="What this token may do to it now (e.g. approve, start, pause)")
    console_url: str


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_before: int | None


class DeliveryOut(Schema):
    id: int
    openid: str
    state: str
    errcode: int | None
    errmsg: str
    reason: str
    action: str = Field(description="What to do about it, in the caller's language")
    msgid: int | None
    attempts: int
    finished_at: datetime | None
    delivered_at: datetime | None = Field(description="When WeChat reported it delivered")


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next_before: int | None


class Reason(Schema):
    errcode: int | None
    reason: str
    action: str
    count: int


class Funnel(Schema):
    campaign: int
    target: int
    sent: int
    delivered: int
    tapped: int
    taps: int
    failed: int
    skipped: int
    unknown: int
    tap_rate: float | None
    reasons: list[Reason]
    days: list[str]
    by_day: dict[str, list[int]]


class TemplateMonths(Schema):
    template_id: str
    title: str
    months: list[str]
    accepts: list[int]
    first_time: list[int]
    total: int


class MenuItem(Schema):
    item: int | None
    name: str
    former_names: list[str]
    taps: int
    people: int
    share: float
    last_month: int
    month_on_month: float | None
    year_on_year: float | None
