"""The API's readable docs (Swagger UI) come from our own static files and draw under the site's CSP."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_draw_from_our_own_files(page, live_server, screenshot):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/templates")
    screenshot("api-docs")
    assert outside == []  # no CDN


def test_an_administrator_makes_a_token_sees_it_once_and_revokes_it(page, live_server, make_account, screenshot):
    """The token is shown once; the list shows its number, scopes, maker and last use; revoking stops it."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from wxnotify.accounts.models import Membership

    account = make_account()
    user = get_user_model().objects.create_user("admin-api", password="admin-api-password-1")
    Membership.objects.create(user=user, account=account, role="administrator")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("admin-api")
    page.get_by_label("密码").fill("admin-api-password-1")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("navigation").get_by_role("link", name="API 与 Webhook").click()
    page.get_by_label("名称").fill("预约系统")
    page.get_by_label("发送（预览、审核、开始、暂停、取消）").check()
    page.get_by_role("button", name="创建").click()
    text = page.locator("#new-token").text_content()
    assert text and text.startswith("wxn_")
    screenshot("api-token-created")
    api = Client()
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {text}").json()["scopes"] == ["read", "send"]
    page.reload()  # a reload (the form sent again) shows it no more and makes no second token
    expect(page.locator("[data-new-token]")).to_have_count(0)
    from wxnotify.api.models import ApiToken

    assert ApiToken.objects.filter(account=account).count() == 1
    row = page.locator("[data-table=tokens] tbody tr").first
    expect(row).to_contain_text("预约系统")
    expect(row).to_contain_text("admin-api")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="停用").click()
    expect(page.locator("[data-table=tokens] tbody tr").first).to_contain_text("已停用")
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {text}").status_code == 401


def test_webhooks_and_api_calls_in_the_console(page, live_server, make_account, screenshot):
    """An administrator adds an endpoint (its secret shown once), a send finishes and the event reaches a
    real receiver, the delivery log says so; the calls page lists each call with its token and answer."""
    import json

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from tests.api.receiver import webhook_receiver
    from tests.browser.conftest import sign_in_as_administrator
    from tests.subscriptions.conftest import make_template
    from wxnotify.api import tokens
    from wxnotify.campaigns import lifecycle
    from wxnotify.campaigns.models import Action, Campaign

    account = make_account()
    sign_in_as_administrator(page, live_server, account, "admin-hooks")
    user = get_user_model().objects.get(username="admin-hooks")
    template = make_template(account, template_id="TPL_VACCINE")
    _t, text = tokens.issue(account=account, name="预约系统", scopes=["read", "write", "send"], user=user)
    api = Client()
    made = api.post(
        "/api/v1/campaigns",
        json.dumps({"name": "九价到货", "template": "TPL_VACCINE", "audience": "template", "fields": {}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {text}",
    )
    assert made.status_code == 422  # the fields are required: a refusal is a call too
    api.get("/api/v1/templates", HTTP_AUTHORIZATION=f"Bearer {text}")
    with webhook_receiver() as receiver:
        page.goto(f"{live_server.url}/api-tokens/webhooks/")
        page.get_by_label("接收地址").fill(receiver.url)
        page.get_by_role("button", name="添加").click()
        receiver.secret = page.locator("#new-secret").text_content() or ""
        assert receiver.secret.startswith("whsec_")
        screenshot("webhook-added")
        campaign = Campaign.objects.create(
            account=account, template=template, name="九价到货", audience="template", state="sending"
        )
        lifecycle.transition(campaign.pk, Action.COMPLETED, user=None, finished_at=timezone.now())
        (got,) = receiver.wait_for(1)
        assert got.signature_ok and got.event == "campaign.finished"
    page.goto(f"{live_server.url}/api-tokens/webhooks/")
    expect(page.locator("[data-new-secret]")).to_have_count(0)
    row = page.locator("[data-table=webhook-deliveries] tbody tr").first
    expect(row).to_contain_text("通知发送完成")
    expect(row).to_contain_text("已送达")
    expect(row).to_contain_text("九价到货")
    screenshot("webhook-deliveries")
    page.get_by_role("link", name="调用记录").click()
    rows = page.locator("[data-table=calls] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("GET /api/v1/templates")
    expect(rows.nth(1)).to_contain_text("POST /api/v1/campaigns")
    expect(rows.nth(1)).to_contain_text("422")
    expect(rows.nth(1)).to_contain_text("预约系统")
    screenshot("api-calls")
