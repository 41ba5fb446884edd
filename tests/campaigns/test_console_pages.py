"""The operator's pages for notifications: compose with live validation, pre-flight, actions by role,
the log with reasons and CSV export, and a template's history."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from tests.campaigns.conftest import GOOD
from wxnotify.accounts.models import Membership
from wxnotify.campaigns import tally
from wxnotify.campaigns.models import AuditEntry, Campaign, Delivery
from wxnotify.subscriptions.models import Template

pytestmark = pytest.mark.django_db(transaction=True)


def member(client, account, role):
    user, _ = get_user_model().objects.get_or_create(username=f"{role}-{account.pk}")
    Membership.objects.get_or_create(user=user, account=account, defaults={"role": role})
    client.force_login(user)
    return user


def fields(data):
    return {f"field_{k}": v for k, v in data.items()}


def test_compose_checks_fields_as_you_type_then_saves(client, sending):
    account, sim, template, subscribers, campaign = sending
    member(client, account, "operator")
    page = client.get(f"/campaigns/new/?template={template.pk}").content.decode()
    assert "疫苗名称" in page and "wx-card" in page
    typing = client.post(
        f"/campaigns/new/?template={template.pk}",
        {"name": "到货", "template": template.pk, "audience": "template", "max_recipient_error_rate": 0.2}
        | fields(GOOD | {"date2": "下周"}),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'data-error="field_date2"' in typing and "<html" not in typing and "九价HPV疫苗" in typing
    saved = client.post(
        f"/campaigns/new/?template={template.pk}",
        {"name": "到货", "template": template.pk, "audience": "template", "max_recipient_error_rate": 0.2, "save": "1"}
        | fields(GOOD),
    )
    c = Campaign.objects.get()
    assert saved.status_code == 302 and c.data == GOOD and c.created_by.username.startswith("operator")


def test_compose_the_older_one_time_message_with_its_title(client, sending):
    account, sim, template, subscribers, campaign = sending
    account.one_time_template_id = sim.get(f"/_sim/accounts/{account.appid}")["one_time_template_id"]
    account.save()
    member(client, account, "operator")
    choices = client.get("/campaigns/new/").content.decode()
    legacy = Template.objects.get(account=account, kind=Template.Kind.LEGACY_ONE_TIME)
    assert f'value="{legacy.pk}"' in choices  # offered once the account has its template id
    base = {"name": "到货", "template": legacy.pk, "audience": "template", "max_recipient_error_rate": 0.2}
    typing = client.post(
        f"/campaigns/new/?template={legacy.pk}",
        base | {"title": "标题" * 8, "field_content": "疫苗到了"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'data-error="title"' in typing and "最多 15 个字符" in typing
    client.post(
        f"/campaigns/new/?template={legacy.pk}", base | {"title": "疫苗到货", "field_content": "疫苗到了", "save": "1"}
    )
    c = Campaign.objects.get()
    assert (c.title, c.data) == ("疫苗到货", {"content": "疫苗到了"})
    assert c.snapshot()["title"] == "疫苗到货"


def test_preflight_send_and_log_with_reasons_and_csv(client, sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(30, product_only=2)
    c = campaign()
    member(client, account, "operator")
    detail = client.get(f"/campaigns/{c.pk}/").content.decode()
    assert 'data-preflight="eligible">32<' in detail and "今日剩余接口次数" in detail
    response = client.post(f"/campaigns/{c.pk}/send", follow=True)  # the queue runs inline in tests
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED, response.content.decode()[:2000]
    assert Delivery.objects.filter(campaign=c, state="sent").count() == 30
    Delivery.objects.filter(pk=Delivery.objects.filter(campaign=c, state="sent").first().pk).update(  # a 45011
        state="failed", errcode=45011
    )
    classes = client.get(f"/campaigns/{c.pk}/").content.decode()
    assert "对方无法接收 2" in classes and "临时故障（可重发） 1" in classes
    log = client.get(f"/campaigns/{c.pk}/log/?state=failed").content.decode()
    assert "43101" in log and "对方没有订阅" in log
    export = client.get(f"/campaigns/{c.pk}/log.csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["OpenID", "状态", "错误码"] and len(rows) == 33
    assert {r[1] for r in rows[1:]} == {"已发送", "失败"}
    history = client.get(f"/campaigns/templates/{template.pk}/history/").content.decode()
    assert c.name in history
    assert AuditEntry.objects.filter(campaign=c, action="send", user__username__startswith="operator").exists()


def test_roles_decide_who_sends_and_who_approves(client, sending):
    account, sim, template, subscribers, campaign = sending
    c = campaign()
    member(client, account, "viewer")
    assert client.post(f"/campaigns/{c.pk}/send").status_code == 403
    member(client, account, "approver")
    assert client.post(f"/campaigns/{c.pk}/send").status_code == 403
    client.post(f"/campaigns/{c.pk}/approve")
    c.refresh_from_db()
    assert c.state == Campaign.State.APPROVED and c.approved_snapshot["data"] == GOOD


def test_the_two_person_rule(client, sending):
    account, sim, template, subscribers, campaign = sending
    account.require_second_approver = True
    account.save()
    author = member(client, account, "administrator")
    c = campaign(created_by=author)
    page = client.post(f"/campaigns/{c.pk}/approve", follow=True).content.decode()
    assert "需要另一位审核人" in page
    assert "这条通知现在不能开始发送" in client.post(f"/campaigns/{c.pk}/send", follow=True).content.decode()
    member(client, account, "approver")
    client.post(f"/campaigns/{c.pk}/approve")
    c.refresh_from_db()
    assert c.state == Campaign.State.APPROVED


def test_a_change_after_a_pause_needs_a_second_approval_before_the_send_resumes(client, sending):
    account, sim, template, subscribers, campaign = sending
    account.require_second_approver = True
    account.save()
    subscribers(3)
    c = campaign(state=Campaign.State.PAUSED, canary_count=1)
    c.approved_snapshot = c.snapshot()
    c.save()
    operator = member(client, account, "operator")
    edited = client.post(
        f"/campaigns/{c.pk}/edit/",
        {"name": c.name, "template": template.pk, "audience": "template", "max_recipient_error_rate": 0.2, "save": "1"}
        | fields(GOOD | {"thing5": "请携带身份证"}),
    )
    assert edited.status_code == 302
    c.refresh_from_db()
    assert c.edited_by == operator and c.data["thing5"] == "请携带身份证"
    page = client.post(f"/campaigns/{c.pk}/resume", follow=True).content.decode()
    assert "需要另一位审核人重新审核" in page
    client.post("/set-language/", {"language": "en", "next": "/"})
    english = client.post(f"/campaigns/{c.pk}/resume", follow=True).content.decode()
    assert "another approver must approve it again" in english  # refusals speak the operator's language
    client.post("/set-language/", {"language": "zh-hans", "next": "/"})
    assert Campaign.objects.get(pk=c.pk).state == Campaign.State.PAUSED
    admin = member(client, account, "administrator")
    Campaign.objects.filter(pk=c.pk).update(edited_by=admin)  # an author cannot approve their own change
    assert "需要另一位审核人" in client.post(f"/campaigns/{c.pk}/approve", follow=True).content.decode()
    Campaign.objects.filter(pk=c.pk).update(edited_by=operator)
    client.post(f"/campaigns/{c.pk}/approve")
    c.refresh_from_db()
    assert c.state == Campaign.State.PAUSED and c.approved_snapshot["data"]["thing5"] == "请携带身份证"
    assert AuditEntry.objects.filter(campaign=c, action="approve", user=admin).exists()
    client.post(f"/campaigns/{c.pk}/resume")  # now it goes on, with the approved content
    c.refresh_from_db()
    assert c.state in (Campaign.State.SENDING, Campaign.State.COMPLETED)
    assert AuditEntry.objects.filter(campaign=c, action="resume").exists()


def test_a_halted_campaign_explains_itself(client, sending):
    account, sim, template, subscribers, campaign = sending
    c = campaign(state=Campaign.State.HALTED, stop_reason="45168: keyword in blacklist rid: x", stop_errcode=45168)
    member(client, account, "operator")
    page = client.get(f"/campaigns/{c.pk}/").content.decode()
    assert "内容含有微信的敏感词" in page and "继续发送" in page


def test_lists_cost_the_same_queries_whatever_their_length(client, sending):
    """No query per row: the campaign list, the log and a template's history with few rows and with many."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    account, sim, template, subscribers, campaign = sending
    member(client, account, "operator")
    first = campaign(state=Campaign.State.COMPLETED)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    def grow(n: int) -> None:
        start = Campaign.objects.count()
        for i in range(start, start + n):
            c = campaign(name=f"发送 {i}", state=Campaign.State.COMPLETED)
            Delivery.objects.bulk_create(
                [Delivery(campaign=c, openid=f"o-{i}-{k}", state="failed", errcode=43101) for k in range(3)]
            )
        Delivery.objects.bulk_create(
            [Delivery(campaign=first, openid=f"p-{start}-{k}", state="sent") for k in range(n * 5)]
        )
        for c in Campaign.objects.all():  # rows written here directly, not by a send
            tally.recount(c.pk)

    urls = ["/campaigns/", f"/campaigns/{first.pk}/log/", f"/campaigns/templates/{template.pk}/history/"]
    grow(1)
    few = [queries(u) for u in urls]
    grow(30)
    assert [queries(u) for u in urls] == few
    history = client.get(urls[2]).content.decode()
    assert history.count('class="hbar"') == 32 and 'class="sent" style="width: 100' in history


def test_compose_offers_the_mini_program_canary_and_relative_schedule(client, sending):
    account, sim, template, subscribers, campaign = sending
    member(client, account, "operator")
    base = {"name": "到货", "template": template.pk, "audience": "template", "max_recipient_error_rate": 0.2}
    url = f"/campaigns/new/?template={template.pk}"
    page = client.post(
        url,
        base | fields(GOOD) | {"miniprogram_appid": "wx123", "canary_count": 10, "canary_percent": 5, "save": "1"},
    ).content.decode()
    assert "小程序需要同时填写" in page and "人数和百分比只填一个" in page and not Campaign.objects.exists()
    client.post(
        url,
        base
        | fields(GOOD)
        | {
            "miniprogram_appid": "wx0123456789abcdef",
            "miniprogram_pagepath": "pages/vaccine/index?id=9",
            "canary_percent": 5,
            "save": "1",
        },
    )
    c = Campaign.objects.get()
    assert c.snapshot()["miniprogram"] == {"appid": "wx0123456789abcdef", "pagepath": "pages/vaccine/index?id=9"}
    assert c.canary_percent == 5


def test_the_audit_log_shows_who_did_what_and_what_the_system_did(client, sending):
    from wxnotify.campaigns import services

    account, sim, template, subscribers, campaign = sending
    approver = member(client, account, "approver")
    c = campaign()
    services.approve(campaign=c, user=approver)
    Campaign.objects.filter(pk=c.pk).update(state=Campaign.State.SENDING)
    operator = member(client, account, "operator")  # an approver may not pause: that is operating the send
    with pytest.raises(PermissionDenied):
        services.pause(campaign=c, user=approver)
    services.pause(campaign=c, user=operator)
    AuditEntry.objects.create(
        account=account, campaign=c, action="auto_halted", detail={"reason": "45168: keyword in blacklist"}
    )
    other = campaign(name="别的公众号看不到")  # entries are per account: another account's stay out
    other_account = type(account).objects.create(
        name="另一家医院", appid="wx00000000000other", original_id="gh_000000other", app_secret="x", callback_token="y"
    )
    AuditEntry.objects.create(account=other_account, campaign=other, action="cancel")
    page = client.get("/campaigns/audit/").content.decode()
    assert page.count("<tr data-audit=") == 3 and "别的公众号看不到" not in page
    assert "审核通过" in page and "暂停" in page and approver.username in page and operator.username in page
    assert "自动停止" in page and "系统" in page and "45168: keyword in blacklist" in page
    only = client.get("/campaigns/audit/?action=pause").content.decode()
    assert only.count("<tr data-audit=") == 1 and 'data-audit="pause"' in only
    detail = client.get(f"/campaigns/{c.pk}/").content.decode()
    assert detail.count("<tr data-audit=") == 3
