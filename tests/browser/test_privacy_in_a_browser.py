"""An administrator meets a patient's request: finds what is held about their OpenID, downloads it, erases
it after typing it again; the page keeps the request, not the OpenID."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATIENT = "oPatientAskingToBeErased0001"


def test_a_patients_request_to_see_and_erase_their_data(page, live_server, make_account, screenshot):
    from tests.browser.conftest import sign_in_as_administrator
    from wxnotify.followers.models import Follower
    from wxnotify.privacy import services

    account = make_account()
    Follower.objects.create(account=account, openid=PATIENT, qr_scene="hpv_poster")
    sign_in_as_administrator(page, live_server, account, "admin-privacy")
    page.get_by_role("navigation").get_by_role("link", name="个人信息请求").click()
    page.get_by_label("OpenID").fill(PATIENT)
    page.get_by_label("请求来由").fill("患者来电，工单 2026-1203")
    page.get_by_role("button", name="查看保存了什么").click()
    found = page.locator("[data-table=privacy-found]")
    expect(found).to_contain_text("关注")
    expect(found.locator("tr", has_text="关注").first).to_contain_text("1")
    screenshot("privacy-found")
    with page.expect_download() as download:
        page.get_by_role("button", name="导出（Excel，每类数据一张表）").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    page.get_by_label("再输入一次 OpenID 以确认删除").fill(PATIENT)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="删除此人的个人信息").click()
    expect(page.locator(".messages, [role=status], .message").first).to_contain_text("已删除")
    assert set(services.found(account, PATIENT).values()) == {0}
    actions = page.locator("[data-table=privacy-actions] tbody tr")
    expect(actions).to_have_count(2)
    expect(actions.first).to_contain_text("删除个人信息")
    expect(actions.nth(1)).to_contain_text("导出个人信息")
    assert PATIENT not in page.content()
    screenshot("privacy-requests")
