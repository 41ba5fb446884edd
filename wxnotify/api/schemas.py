"""What the API answers, as OpenAPI schemas (pydantic, through django-ninja)."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema


class Error(Schema):
    code: str
    message: str
    field: str | None = None


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
