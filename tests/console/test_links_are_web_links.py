"""Every link an operator enters and a patient opens is http(s): the probe saved ftp:// and ftps:// links
as notification targets and activity links, and showed them to patients."""

import pytest
from django.core.exceptions import ValidationError

from tests.campaigns.conftest import GOOD
from tests.subscriptions.conftest import make_activity, make_template
from wxnotify.campaigns.models import Campaign
from wxnotify.subscriptions.models import Activity

NOT_WEB = ["ftp://files.example.com/a", "ftps://files.example.com/a", "javascript:alert(1)", "file:///etc/passwd"]
WEB = ["https://www.example-hospital.cn/hpv?from=wx", "http://example.cn/a"]


def operator_of(client, account):
    from django.contrib.auth import get_user_model

    from wxnotify.accounts.models import Membership

    user = get_user_model().objects.create_user(f"op{account.pk}")
    Membership.objects.create(user=user, account=account, role="operator")
    client.force_login(user)


@pytest.mark.parametrize("link", NOT_WEB + WEB)
def test_the_notification_target(client, make_account, link):
    account = make_account()
    template = make_template(account, template_id="T1")
    operator_of(client, account)
    form = {
        "name": "到货",
        "template": template.pk,
        "audience": "template",
        "max_recipient_error_rate": 0.2,
        "page": link,
        "save": "1",
    } | {f"field_{k}": v for k, v in GOOD.items() if k in {kw["key"] for kw in template.keywords}}
    response = client.post(f"/campaigns/new/?template={template.pk}", form)
    if link in WEB:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert Campaign.objects.get().page == link
    else:
        assert response.status_code == 200 and "请填写以 http:// 或 https:// 开头的网址" in response.content.decode()
        assert not Campaign.objects.exists()


@pytest.mark.parametrize("link", NOT_WEB + WEB)
def test_the_activity_link(client, make_account, link):
    account = make_account()
    template = make_template(account, template_id="T1")
    operator_of(client, account)
    base = {"title": "健康讲座", "kind": "live_lecture", "starts_at": "2026-12-12T19:00", "templates": [template.pk]}
    response = client.post("/activities/new/", base | {"live_url": link})
    if link in WEB:
        assert response.status_code == 302 and Activity.objects.get().live_url == link
    else:
        assert "请填写以 http:// 或 https:// 开头的网址" in response.content.decode()
        assert not Activity.objects.exists()


def test_the_models_refuse_them_too(make_account):
    """Whatever writes later (the JSON API, an import) and calls full_clean meets the same rule."""
    account = make_account()
    template = make_template(account, template_id="T1")
    activity = make_activity(account, template)
    activity.live_url = "ftp://files.example.com/a"
    with pytest.raises(ValidationError, match="live_url"):
        activity.full_clean()
    campaign = Campaign(account=account, template=template, name="x", page="ftps://files.example.com/a")
    with pytest.raises(ValidationError, match="page"):
        campaign.full_clean()
