"""Template sync with WeChat: gettemplate → our Template rows."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from wxnotify.accounts.models import OfficialAccount
from wxnotify.accounts.wechat import account_api
from wxnotify.subscriptions.services import TemplateSyncReport, apply_template_list, ensure_legacy_template


async def sync_templates(account: OfficialAccount) -> TemplateSyncReport:
    async with account_api(account) as api:
        items = await api.client.get_templates()
    report = await sync_to_async(apply_template_list)(account=account, items=items)
    await sync_to_async(ensure_legacy_template)(account)
    return report
