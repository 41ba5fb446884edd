"""A hospital ready to send, the same on both sides: the account, its vaccine template and `recipients`
subscribed patients in the simulator, and in the product (as a sync and their subscriptions would make
them), with a notification to all of them as a draft. Shared by `send_campaign` and `chaos`."""

from __future__ import annotations

from typing import Any

from wxsim.client import Simulator

DATA = {"thing1": "九价HPV疫苗", "date2": "2026年12月1日", "thing3": "预防接种门诊", "thing5": "点击卡片立即预约"}


def ready_to_send(
    sim: str, *, appid: str, secret: str, original_id: str, recipients: int, rate: int, callback_url: str = ""
) -> tuple[Any, str, list[str]]:
    """The draft notification, the WeChat template id, and the patients' openids."""
    from wxnotify.accounts.models import OfficialAccount
    from wxnotify.campaigns import services
    from wxnotify.campaigns.models import Campaign
    from wxnotify.subscriptions.models import Subscription, Template
    from wxnotify.subscriptions.services import parse_keywords

    wechat = Simulator(sim, timeout=600)
    wechat.put_account(
        appid=appid, secret=secret, original_id=original_id, token="t", mode="plaintext", callback_url=callback_url
    )
    tpl = wechat.add_template(appid, 5004, [1, 2, 3, 5])
    openids = wechat.add_patients(appid, recipients, credits={tpl["priTmplId"]: 1})
    account = OfficialAccount.objects.create(
        name=appid,
        appid=appid,
        original_id=original_id,
        app_secret=secret,
        callback_token="t",
        message_mode="plaintext",
        send_rate=rate,
    )
    template = Template.objects.create(
        account=account,
        template_id=tpl["priTmplId"],
        title=tpl["title"],
        content=tpl["content"],
        kind=Template.Kind.ONE_TIME,
        keywords=parse_keywords(tpl["content"]),
    )
    Subscription.objects.bulk_create(
        [Subscription(account=account, template=template, openid=o, credits=1) for o in openids], batch_size=5000
    )
    draft = Campaign(account=account, name="bench", template=template, audience=Campaign.Audience.TEMPLATE, data=DATA)
    return services.save(campaign=draft, user=None), tpl["priTmplId"], openids
