"""Issue 4's main path in Chromium: a patient subscribes on the activity page (OAuth and the open tag
through the simulator) and the operator's console counts it — then a second accept, then a rejection."""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.conftest import link_account
from tests.subscriptions.conftest import make_activity
from wxnotify.accounts.models import Membership
from wxnotify.subscriptions.models import Subscription, Template
from wxnotify.subscriptions.wechat_sync import sync_templates

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_own_thread(fn):
    def run():
        from django.db import connections

        try:
            return fn()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


WECHAT_UA = "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36 MicroMessenger/8.0.50.2701(0x28003253) NetType/WIFI Language/zh_CN"


def test_patient_subscribes_twice_then_rejects_in_settings(
    browser, page, live_server, simulated_wechat, settings, screenshot
):
    account, sim = simulated_wechat
    settings.WXNOTIFY_PUBLIC_URL = live_server.url
    link_account(sim, account, callback_url=f"{live_server.url}/wechat/{account.appid}/callback")
    sim.post(
        f"/_sim/accounts/{account.appid}/templates", {"tid": 5004, "kid_list": [1, 2, 3, 5], "scene_desc": "疫苗到货"}
    )
    in_own_thread(lambda: asyncio.run(sync_templates(account)))  # this thread runs Playwright's loop
    template = Template.objects.get(account=account)
    activity = make_activity(account, template, title="九价HPV疫苗到货提醒", place="预防接种门诊")
    openid = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 3})["openids"][1]
    operator = get_user_model().objects.create_user("yunying", password="yunying-password-1")
    Membership.objects.create(user=operator, account=account, role="operator")

    console = browser.new_context(locale="zh-CN").new_page()
    console.goto(f"{live_server.url}/login/")
    console.get_by_label("用户名").fill("yunying")
    console.get_by_label("密码").fill("yunying-password-1")
    console.get_by_role("button", name="登录").click()
    console.goto(f"{live_server.url}/activities/{activity.pk}/")
    current = console.locator(f'#activity-counts tr[data-template="{template.template_id}"] [data-count="current"]')
    historical = console.locator(
        f'#activity-counts tr[data-template="{template.template_id}"] [data-count="historical"]'
    )
    expect(current).to_have_text("0")

    phone = browser.new_context(user_agent=WECHAT_UA, locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    phone.goto(f"{live_server.url}/s/{activity.code}/")
    expect(phone).to_have_url(re.compile(r"/connect/oauth2/authorize"))  # first visit: WeChat asks who this is
    phone.get_by_role("link", name=openid).click()
    expect(phone).to_have_url(f"{live_server.url}/s/{activity.code}/")
    expect(phone.get_by_role("heading", name="九价HPV疫苗到货提醒")).to_be_visible()
    expect(phone.locator("body")).to_have_attribute("data-wx-ready", "yes")
    screenshot("patient-page", phone)

    phone.get_by_role("button", name="一键订阅提醒").click()
    phone.locator('[data-wxsim="subscribe-popup"]').get_by_role("button", name="允许").click()
    expect(phone.locator("#result")).to_contain_text("已订阅：疫苗到货通知（可接收 1 次）")
    screenshot("patient-subscribed", phone)
    expect(current).to_have_text("1", timeout=15_000)
    expect(historical).to_have_text("1")
    screenshot("console-activity", console)

    phone.get_by_role("button", name="一键订阅提醒").click()
    phone.locator('[data-wxsim="subscribe-popup"]').get_by_role("button", name="允许").click()
    expect(phone.locator("#result")).to_contain_text("可接收 2 次")
    assert Subscription.objects.get(template=template, openid=openid).credits == 2
    expect(current).to_have_text("1")  # still one person

    sim.post(
        f"/_sim/accounts/{account.appid}/patients/{openid}/settings-reject", {"template_ids": [template.template_id]}
    )
    expect(current).to_have_text("0", timeout=15_000)
    expect(historical).to_have_text("1")
    console.goto(f"{live_server.url}/templates/")
    row = console.locator(f'tr[data-template="{template.template_id}"]')
    expect(row.locator('[data-count="historical"]')).to_have_text("1")
    expect(row.locator('[data-count="current"]')).to_have_text("0")


def test_the_page_waits_for_wechats_event_and_promises_one_thing(
    browser, live_server, simulated_wechat, settings, screenshot
):
    """Issue 13 item 7: WeChat answers the button before it pushes the event: the page keeps checking until
    our server has it, then says the one promise the page made; a refused link leads back to the activity."""
    account, sim = simulated_wechat
    settings.WXNOTIFY_PUBLIC_URL = live_server.url
    link_account(sim, account, callback_url=f"{live_server.url}/wechat/{account.appid}/callback")
    sim.post(
        f"/_sim/accounts/{account.appid}/templates", {"tid": 5004, "kid_list": [1, 2, 3, 5], "scene_desc": "疫苗到货"}
    )
    in_own_thread(lambda: asyncio.run(sync_templates(account)))
    template = Template.objects.get(account=account)
    activity = make_activity(account, template, title="九价HPV疫苗到货提醒")
    openid = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"][0]
    sim.post("/_sim/popup-event-delay", {"seconds": 3})

    phone = browser.new_context(user_agent=WECHAT_UA, locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    phone.goto(f"{live_server.url}/s/{activity.code}/")
    phone.get_by_role("link", name=openid).click()
    expect(phone.locator("body")).to_have_attribute("data-wx-ready", "yes")
    promise = phone.locator("[data-promise]")
    expect(promise).to_contain_text("疫苗到货、可以预约时（预计 ")
    expect(promise).not_to_contain_text("前后")
    phone.get_by_role("button", name="一键订阅提醒").click()
    phone.locator('[data-wxsim="subscribe-popup"]').get_by_role("button", name="允许").click()
    expect(phone.locator("#result")).to_contain_text("正在等待微信确认")  # answered; the event not yet here
    assert not Subscription.objects.filter(openid=openid).exists()
    expect(phone.locator("#result")).to_contain_text("已订阅：疫苗到货通知（可接收 1 次）", timeout=15_000)
    expect(phone.locator("#result")).to_contain_text("疫苗到货、可以预约时（预计 ")
    screenshot("patient-subscribed-after-the-event", phone)

    phone.goto(f"{live_server.url}/s/{activity.code}/oauth?state=forged&code=x")  # a stale or forged link
    expect(phone.locator(".error-message")).to_contain_text("链接已失效")
    phone.locator("[data-back]").click()
    expect(phone.get_by_role("heading", name="九价HPV疫苗到货提醒")).to_be_visible()
