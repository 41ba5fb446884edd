import pytest

from tests.conftest import link_account
from wxnotify.campaigns.models import Campaign
from wxnotify.subscriptions.models import Subscription, Template
from wxnotify.subscriptions.services import parse_keywords

GOOD = {"thing1": "九价HPV疫苗", "date2": "2026年12月1日", "thing3": "预防接种门诊", "thing5": "点击卡片立即预约"}


@pytest.fixture
def sending(simulated_wechat, live_server):
    """A hospital on the simulator with the vaccine template, its callback on the live server, and a way to add subscribers."""
    account, sim = simulated_wechat
    link_account(sim, account, callback_url=f"{live_server.url}/wechat/{account.appid}/callback")
    tpl = sim.post(f"/_sim/accounts/{account.appid}/templates", {"tid": 5004, "kid_list": [1, 2, 3, 5]})
    template = Template.objects.create(
        account=account,
        template_id=tpl["priTmplId"],
        title=tpl["title"],
        content=tpl["content"],
        kind=Template.Kind.ONE_TIME,
        keywords=parse_keywords(tpl["content"]),
    )

    def subscribers(n: int, *, product_only: int = 0) -> list[str]:
        """n patients subscribed on both sides (one credit each); `product_only` more that WeChat does not know as subscribed."""
        openids = sim.post(
            f"/_sim/accounts/{account.appid}/patients", {"count": n, "credits": {template.template_id: 1}}
        )["openids"]
        extra = (
            sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": product_only})["openids"]
            if product_only
            else []
        )
        Subscription.objects.bulk_create(
            [
                Subscription(
                    account=account,
                    template=template,
                    openid=o,
                    credits=1,
                    accepts=1,
                    first_accepted_at="2026-11-01T00:00:00Z",
                )
                for o in openids + extra
            ]
        )
        return openids + extra

    def campaign(**fields) -> Campaign:
        return Campaign.objects.create(
            account=account,
            name="HPV 疫苗到货",
            template=template,
            audience=Campaign.Audience.TEMPLATE,
            data=fields.pop("data", GOOD),
            **fields,
        )

    yield account, sim, template, subscribers, campaign
    sim.drain()  # WeChat's last delivery reports reach the product before the test's data is removed
