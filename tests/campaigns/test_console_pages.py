"""The operator's pages for notifications: compose with live validation, pre-flight, actions by role,
the log with reasons and CSV export, and a template's history."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model

from tests.campaigns.conftest import GOOD
from wxnotify.accounts.models import Membership
from wxnotify.campaigns.models import AuditEntry, Campaign, Delivery

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
    log = client.get(f"/campaigns/{c.pk}/log/?state=failed").content.decode()
    assert "43101" in log and "对方没有订阅" in log
    export = client.get(f"/campaigns/{c.pk}/log.csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["openid", "state", "errcode"] and len(rows) == 33
    assert {r[1] for r in rows[1:]} == {"sent", "failed"}
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


def test_a_halted_campaign_explains_itself(client, sending):
    account, sim, template, subscribers, campaign = sending
    c = campaign(state=Campaign.State.HALTED, stop_reason="45168: keyword in blacklist rid: x", stop_errcode=45168)
    member(client, account, "operator")
    page = client.get(f"/campaigns/{c.pk}/").content.decode()
    assert "内容含有微信的敏感词" in page and "继续发送" in page
