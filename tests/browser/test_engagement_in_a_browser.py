"""An operator in Chromium (zh-CN) writes the welcome and watches the phone preview follow, then edits the menu,
sees WeChat's rule broken and named while typing, fixes it and publishes. Screenshots: var/screenshots/."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.conftest import link_account
from wxnotify.accounts.models import Membership
from wxnotify.engagement.models import MenuVersion, Welcome

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_welcome_and_menu_edited_previewed_and_published(page, live_server, simulated_wechat, screenshot):
    account, sim = simulated_wechat
    link_account(sim, account, callback_url=f"{live_server.url}/wechat/{account.appid}/callback")
    user = get_user_model().objects.create_user("op1", password="op1-password-1")
    Membership.objects.create(user=user, account=account, role="operator")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("op1")
    page.get_by_label("密码").fill("op1-password-1")
    page.get_by_role("button", name="登录").click()

    page.get_by_role("link", name="关注回复").click()
    page.get_by_role("link", name="新建关注回复").click()
    page.get_by_label("回复类型").select_option("news")
    page.get_by_label("图文标题").fill("欢迎关注瑞康医院")
    page.get_by_label("图文摘要").fill("预约挂号、报告查询、疫苗订阅")
    phone = page.locator("#welcome-preview .phone")
    expect(phone.locator(".news-title")).to_have_text("欢迎关注瑞康医院")  # follows the typing
    page.get_by_label("关注后再发一条图文").check()
    page.get_by_label("第二条：标题").fill("九价HPV疫苗到货提醒，一键订阅")
    expect(phone.locator(".news-card")).to_have_count(2)
    expect(phone.locator(".news-title").nth(1)).to_have_text("九价HPV疫苗到货提醒，一键订阅")
    screenshot("engagement-welcome-preview")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("关注回复已保存")).to_be_visible()
    assert Welcome.objects.get(account=account).second_title == "九价HPV疫苗到货提醒，一键订阅"

    page.get_by_role("link", name="自定义菜单").click()
    rows = page.locator("table.menu-rows tbody tr")
    rows.nth(0).locator("input[name$='-name']").fill("预约挂号服务中心")  # 24 bytes: over the 16 of a top item
    rows.nth(0).locator("input[name$='-position']").fill("0")
    rows.nth(0).locator("select[name$='-type']").select_option("click")
    rows.nth(0).locator("input[name$='-key']").fill("MENU_BOOK")
    rows.nth(1).locator("input[name$='-name']").fill("疫苗订阅")
    rows.nth(1).locator("input[name$='-position']").fill("1")
    rows.nth(1).locator("select[name$='-type']").select_option("view")
    rows.nth(1).locator("input[name$='-url']").fill("https://www.example-hospital.cn/hpv")
    problems = page.locator("#menu-problems")
    expect(problems).to_contain_text("菜单 1「预约挂号服务中心」：名称有 24 字节，微信最多 16 字节")
    screenshot("engagement-menu-refused")
    rows.nth(0).locator("input[name$='-name']").fill("预约挂号")
    expect(page.locator("#menu-ok")).to_be_visible()
    expect(page.locator("#menu-preview .phone-menu-top")).to_have_text(["预约挂号", "疫苗订阅"])
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="发布到微信").click()
    expect(page.get_by_text("菜单已发布到微信。（v1）")).to_be_visible()
    screenshot("engagement-menu-published")
    published = sim.get(f"/_sim/accounts/{account.appid}")["menu"]
    assert (
        [b["name"] for b in published]
        == ["预约挂号", "疫苗订阅"]
        == [b["name"] for b in MenuVersion.objects.get().buttons]
    )
    page.get_by_role("link", name="版本历史").click()
    expect(page.locator("[data-version='1']")).to_be_visible()
    screenshot("engagement-menu-versions")
