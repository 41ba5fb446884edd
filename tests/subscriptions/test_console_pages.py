"""Console: template sync with notices of upstream changes, activities with WeChat's rules, entry points, live counts."""

import pytest
from django.contrib.auth import get_user_model

from tests.subscriptions.conftest import make_activity, make_template
from wxnotify.accounts.models import Membership
from wxnotify.subscriptions.models import Activity, Subscription, Template

pytestmark = pytest.mark.django_db(transaction=True)


def operator(client, account, role="operator"):
    user = get_user_model().objects.create_user(f"{role}-{account.pk}", password="x-long-password-1")
    Membership.objects.create(user=user, account=account, role=role)
    client.force_login(user)
    return user


def test_template_sync_adds_parses_and_notices_deletion_upstream(client, simulated_wechat):
    account, sim = simulated_wechat
    kept = sim.post(f"/_sim/accounts/{account.appid}/templates", {"tid": 5004, "kid_list": [1, 2, 3, 5]})["priTmplId"]
    gone = sim.post(f"/_sim/accounts/{account.appid}/templates", {"tid": 5002, "kid_list": [1, 2]})["priTmplId"]
    operator(client, account)
    response = client.post("/templates/sync", follow=True)
    assert "新增 2 个" in response.content.decode()
    vaccine = Template.objects.get(template_id=kept)
    assert vaccine.title == "疫苗到货通知" and vaccine.kind == Template.Kind.ONE_TIME
    assert vaccine.keywords == [
        {"key": "thing1", "name": "疫苗名称", "rule": "thing"},
        {"key": "date2", "name": "到货时间", "rule": "date"},
        {"key": "thing3", "name": "接种地点", "rule": "thing"},
        {"key": "thing5", "name": "预约方式", "rule": "thing"},
    ]
    token = sim.access_token(account.appid, account.app_secret)
    assert sim.wechat("POST", "/wxaapi/newtmpl/deltemplate", token, {"priTmplId": gone})["errcode"] == 0
    Template.objects.filter(template_id=kept).update(content="changed locally")  # as if WeChat had changed it
    page = client.post("/templates/sync", follow=True).content.decode()
    assert "已在微信后台删除" in page and "直播开始提醒" in page and "有变更" in page
    assert Template.objects.get(template_id=gone).status == Template.Status.DELETED
    assert Template.objects.get(template_id=kept).changed_upstream_at is not None


def test_viewers_cannot_sync_or_create(client, make_account):
    account = make_account()
    operator(client, account, role="viewer")
    assert client.post("/templates/sync").status_code == 403
    assert client.get("/activities/new/").status_code == 403
    assert client.get("/templates/").status_code == 200


def test_activity_form_enforces_the_open_tags_rules(client, make_account):
    account = make_account()
    other = make_account()
    one_time = make_template(account, template_id="T1")
    long_term = make_template(account, template_id="T2", kind=Template.Kind.LONG_TERM, title="就诊提醒")
    foreign = make_template(other, template_id="T3")
    operator(client, account)
    base = {"title": "社区义诊", "kind": "offline", "starts_at": "2026-12-12T08:30", "place": "门诊大厅"}
    mixed = client.post("/activities/new/", base | {"templates": [one_time.pk, long_term.pk]})
    assert "不能放在同一个订阅按钮里" in mixed.content.decode()
    stolen = client.post("/activities/new/", base | {"templates": [foreign.pk]})
    assert stolen.status_code == 200 and not Activity.objects.exists()
    backwards = client.post("/activities/new/", base | {"templates": [one_time.pk], "ends_at": "2026-12-12T08:00"})
    assert "结束时间不能早于开始时间" in backwards.content.decode()
    created = client.post("/activities/new/", base | {"templates": [one_time.pk], "ends_at": "2026-12-12T11:30"})
    activity = Activity.objects.get()
    assert created.status_code == 302 and activity.starts_at.isoformat() == "2026-12-12T00:30:00+00:00"  # Beijing time
    assert len(activity.code) == 8


def test_activity_page_has_its_entry_points(client, make_account):
    account = make_account()
    activity = make_activity(account, make_template(account, template_id="T1"))
    operator(client, account)
    page = client.get(f"/activities/{activity.pk}/").content.decode()
    assert f"/s/{activity.code}/" in page and "<svg" in page and "下载二维码 PNG" in page
    png = client.get(f"/activities/{activity.pk}/qr.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = client.get(f"/activities/{activity.pk}/qr.svg")
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    poster = client.get(f"/activities/{activity.pk}/poster/").content.decode()
    assert activity.title in poster and "微信扫一扫" in poster
    other = make_account()
    foreign = make_activity(other, make_template(other, template_id="T9"))
    assert client.get(f"/activities/{foreign.pk}/").status_code == 404
    assert client.get(f"/activities/{foreign.pk}/qr.png").status_code == 404


def test_the_management_list_updates_live(client, make_account):
    account = make_account()
    template = make_template(account, template_id="T1")
    operator(client, account)
    before = client.get("/templates/?partial=rows", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-count="current">0<' in before
    Subscription.objects.create(
        account=account, template=template, openid="o1", credits=2, first_accepted_at="2026-01-01T00:00:00Z"
    )
    after = client.get("/templates/?partial=rows", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-count="historical">1<' in after and 'data-count="current">1<' in after and "<html" not in after
