"""The console's small behaviours, now in a static script (the CSP runs no inline script): the account
switcher, the compose page's template choice, the copy button, the "really cancel?" question.
The `page` fixture fails the test if Chromium refused anything under the Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

from tests.subscriptions.conftest import make_template
from wxnotify.accounts.models import Membership
from wxnotify.campaigns.models import Campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_switcher_template_choice_copy_and_confirm(page, live_server, hospital_console, make_account, screenshot):
    account, sim, template, activity, campaign = hospital_console
    other = make_account(name="第二医院")
    Membership.objects.create(user=campaign.account.memberships.get().user, account=other, role="administrator")
    second = make_template(account, template_id="TPL_LECTURE", title="讲座开始提醒")
    campaign.state = Campaign.State.PAUSED
    campaign.save()
    alice = account.memberships.get().user
    alice.set_password("alice-password-1")
    alice.save()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("alice")
    page.get_by_label("密码").fill("alice-password-1")
    page.get_by_role("button", name="登录").click()

    page.get_by_label("公众号").select_option(str(other.pk))  # submits by itself
    expect(page.get_by_role("heading", name="第二医院")).to_be_visible()
    page.get_by_label("公众号").select_option(str(account.pk))
    expect(page.get_by_role("heading", name=account.name)).to_be_visible()

    page.goto(f"{live_server.url}/campaigns/new/")
    page.locator("#id_template").select_option(str(second.pk))  # reloads with that template's fields
    expect(page).to_have_url(f"{live_server.url}/campaigns/new/?template={second.pk}")
    expect(page.locator(".wx-card-title")).to_have_text("讲座开始提醒")

    page.goto(f"{live_server.url}/activities/{activity.pk}/")
    page.get_by_role("button", name="复制").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.endswith(f"/s/{activity.code}/")
    screenshot("activity-under-csp")

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="取消发送").click()
    expect(page.get_by_role("button", name="取消发送")).to_be_visible()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.PAUSED  # "no" to the question sends nothing
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="取消发送").click()
    expect(page.get_by_text("已取消").first).to_be_visible()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.CANCELLED
