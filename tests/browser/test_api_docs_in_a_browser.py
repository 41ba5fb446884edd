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
    page.get_by_role("navigation").get_by_role("link", name="API 令牌").click()
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
