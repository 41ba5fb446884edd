"""The JSON API (`/api/v1/`): django-ninja over the same services and selectors as the console. Its OpenAPI
document is `/api/v1/openapi.json`, its readable docs `/api/v1/docs` (Swagger UI from our own static files)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from ninja import NinjaAPI
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

from wxnotify.api import errors
from wxnotify.api.auth import TokenAuth
from wxnotify.api.endpoints import account, activities, campaigns, statistics


class BeijingTimes(NinjaJSONEncoder):
    """Times as the console shows them, in the installation's time zone (ISO 8601 with its offset, e.g.
    2026-12-20T09:00:00+08:00): the same instant as UTC, but what a hospital's system logs and compares."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime) and timezone.is_aware(o):
            return timezone.localtime(o).isoformat()
        return super().default(o)


class Readable(JSONRenderer):
    """UTF-8 as it is: an integrator reading "没有找到。" in a log should not see escapes."""

    encoder_class = BeijingTimes
    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    renderer=Readable(),
    title="wxnotify API",
    version="1",
    description=(
        "Subscription notifications for WeChat Official Accounts: activities, templates, subscribers and sends. "
        "Authenticate with `Authorization: Bearer <token>` (tokens are made in the console, per account, with "
        "scopes read / write / send). Errors are `{code, message, field}`; messages follow Accept-Language. "
        "A POST that creates or sends takes an `Idempotency-Key` header: a retry with the same key gets the first "
        "answer back (header `Idempotent-Replayed: true`) and never creates or sends twice. Each token may make "
        "a limited number of calls a minute; past it the answer is 429 with `Retry-After`."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
)
errors.install(api)
for router in (account.router, activities.router, campaigns.router, statistics.router):
    api.add_router("", router)
