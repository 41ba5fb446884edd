"""A send from its audience to those who tapped, why the others did not get it, taps over time, and the
sends of one template side by side."""

from __future__ import annotations

import pytest

from tests.campaigns.test_console_pages import member
from tests.campaigns.test_sending_on_wxsim import run_engines
from tests.stats.test_menu_page import rows_of
from wxnotify.campaigns import services
from wxnotify.stats import services as stats

PAGE = "https://www.example-hospital.cn/hpv"

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_send_from_target_to_taps_with_reasons_and_side_by_side(client, sending, live_server, settings):
    settings.WXNOTIFY_PUBLIC_URL = live_server.url
    account, sim, template, subscribers, campaign = sending
    openids = subscribers(6, product_only=2)  # 2 that WeChat does not know as subscribed: 43101
    c = campaign(page=PAGE)
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    sim.drain()  # WeChat's delivery reports: the six are confirmed delivered
    for openid in (openids[0], openids[0], openids[1], openids[2]):  # three people, four taps
        assert sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/open", {})["status"] == 302
    subscribers(2)  # two more subscribe; everyone else's one-time credit was used (or zeroed by 43101)
    mini = campaign(name="小程序版", miniprogram_appid="wxminiprogram01", miniprogram_pagepath="pages/hpv/index")
    services.start(campaign=mini, user=None, workers=0)
    run_engines(mini.pk, 1)
    sim.drain()
    stats.refresh()

    member(client, account, "viewer")
    detail = client.get(f"/stats/notifications/{c.pk}/").content.decode()
    assert rows_of(detail, "funnel") == [
        ["目标人数", "8"],
        ["已发送", "6"],
        ["已送达", "6"],
        ["点击人数", "3"],
        ["点击次数", "4"],
    ]
    reasons = rows_of(detail, "reasons")
    assert len(reasons) == 1 and reasons[0][1:] == ["43101", "2"] and "订阅" in reasons[0][0]
    days = rows_of(detail, "days")
    assert len(days) == 1 and days[0][1:] == ["6", "6", "2", "4"]  # all today: sent, delivered, failed, taps
    assert 'data-chart="funnel-chart"' in detail and 'data-chart="days-chart"' in detail

    listing = rows_of(client.get(f"/stats/notifications/?template={template.pk}").content.decode(), "sends")
    # newest first: the mini-program send (no link to count), then the web send
    # (the eight earlier subscribers have no credit left: in its target, skipped with the reason)
    assert listing[0][0].startswith("小程序版") and listing[0][2:8] == ["10", "2", "2", "0", "8", "0"]
    assert listing[0][8] == "小程序，无法统计"
    assert listing[1][2:] == ["8", "6", "6", "2", "0", "0", "3", "4", "50.0%"]
    outcomes = rows_of(client.get("/stats/notifications/?by=month").content.decode(), "outcomes")
    this_month = outcomes[-1]  # sent, delivered, failed, skipped, unknown, cancelled: both sends
    assert this_month[1:] == ["8", "8", "2", "8", "0", "0"]
    assert all(row[1:] == ["0"] * 6 for row in outcomes[:-1])  # the twelve months before: nothing
    long_ago = client.get(f"/stats/notifications/?template={template.pk}&from=2020-01&to=2020-02").content.decode()
    assert "data-empty" in long_ago  # the months picked hold no send
    untrackable = client.get(f"/stats/notifications/{mini.pk}/").content.decode()
    assert "data-untrackable" in untrackable and 'data-chart="days-chart"' in untrackable
    assert "data-no-taps" not in untrackable  # no link to tap: the page says why instead


def test_another_accounts_send_is_not_found(client, sending, make_account):
    account, sim, template, subscribers, campaign = sending
    c = campaign(page=PAGE)
    member(client, make_account(name="别家医院"), "administrator")
    assert client.get(f"/stats/notifications/{c.pk}/").status_code == 404
    assert "data-empty" in client.get("/stats/notifications/").content.decode()
