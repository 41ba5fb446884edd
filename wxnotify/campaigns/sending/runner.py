"""Running the engine for one campaign in this process, wired to the database, WeChat and the rate limit."""

from __future__ import annotations

import os
import socket

from django.conf import settings

from wxnotify.accounts.models import OfficialAccount
from wxnotify.accounts.wechat import account_api
from wxnotify.campaigns.clicks import tracked_link
from wxnotify.campaigns.models import Campaign
from wxnotify.campaigns.sending.django_store import DjangoStore
from wxnotify.campaigns.sending.engine import Engine, EngineConfig, RunReport
from wxnotify.campaigns.sending.ports import RateLimiter
from wxnotify.campaigns.sending.ratelimit import RedisRateLimiter, process_bucket
from wxnotify.campaigns.sending.wechat_messenger import WeChatMessenger


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def limiter_for(account: OfficialAccount, redis: object | None) -> RateLimiter:
    rate = account.send_rate or settings.WXNOTIFY_SEND_RATE  # per account: WeChat counts per AppID
    if redis is not None:  # shared by every worker on every machine
        key = f"wxnotify:rate:{account.appid}"
        return RedisRateLimiter(redis, key, int(rate), outage_seconds=settings.WXNOTIFY_DB_OUTAGE_SECONDS)
    return process_bucket(account.appid, float(rate))  # shared by this process's engines


async def run_campaign(campaign_id: int, *, worker: str | None = None, config: EngineConfig | None = None) -> RunReport:
    campaign = await Campaign.objects.select_related("account").aget(pk=campaign_id)
    config = config or EngineConfig(
        concurrency=settings.WXNOTIFY_SEND_CONCURRENCY,
        lease_seconds=settings.WXNOTIFY_SEND_LEASE_SECONDS,
        backoff_seconds=settings.WXNOTIFY_SEND_BACKOFF_SECONDS,
    )
    redis = None
    if settings.REDIS_URL:
        import redis.asyncio as aioredis

        redis = aioredis.from_url(settings.REDIS_URL)
    try:
        async with account_api(campaign.account, connections=config.concurrency) as api:
            store = DjangoStore(campaign_id, worker or worker_name())
            try:
                messenger = WeChatMessenger(api.client, link_for=tracked_link)
                engine = Engine(store, messenger, limiter_for(campaign.account, redis), config)
                return await engine.run()
            finally:
                await store.close()
    finally:
        if redis is not None:
            await redis.aclose()
