"""Click tracking: each recipient's link is a signed redirect that counts the tap and forwards to the page
the send was approved with; a forged or cut code counts nothing and says so; it is never an open redirect."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core import signing

from tests.campaigns.test_sending_on_wxsim import run_engines
from wxnotify.campaigns import clicks, services
from wxnotify.campaigns.models import Campaign, Click, Delivery

PAGE = "https://www.example-hospital.cn/hpv?from=notice"

pytestmark = pytest.mark.django_db(transaction=True)


def test_codes_round_trip_and_refuse_what_we_did_not_sign():
    for n in (1, 35, 36, 123456789, 2**53):
        assert clicks.delivery_of(clicks.link_code(n)) == n
    code = clicks.link_code(42)
    value, signature = code.split(".")
    assert clicks.delivery_of(f"{clicks._base36(43)}.{signature}") is None  # another delivery, same signature
    assert clicks.delivery_of(code[:-1]) is None  # cut
    assert clicks.delivery_of("abc") is None and clicks.delivery_of("") is None
    other_install = signing.Signer(key="another-secret-key", salt="wxnotify.campaigns.click", sep=".")
    assert clicks.delivery_of(other_install.sign(value)) is None


def test_each_recipient_gets_their_own_link_and_a_tap_is_counted_and_forwarded(client, sending):
    account, sim, template, subscribers, campaign = sending
    openids = subscribers(5)
    c = campaign(page=PAGE)
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED
    links = {}
    for openid in openids:
        shown = sim.get(f"/_sim/accounts/{account.appid}/patients/{openid}")["received"][-1]["content"]["page"]
        assert urlsplit(shown).path.startswith("/r/") and PAGE not in shown
        links[openid] = urlsplit(shown).path
    assert len(set(links.values())) == 5  # one link per recipient

    first = client.get(links[openids[0]])
    assert first.status_code == 302 and first["Location"] == PAGE
    client.get(links[openids[0]])  # tapped again: a second tap by the same person
    client.get(links[openids[1]])
    taps = Click.objects.filter(campaign=c)
    assert taps.count() == 3 and taps.values("delivery").distinct().count() == 2
    assert set(taps.values_list("openid", flat=True)) == {openids[0], openids[1]}
    assert taps.filter(delivery=Delivery.objects.get(campaign=c, openid=openids[0])).count() == 2


def test_a_patient_in_the_simulator_taps_and_lands_on_the_page(sending, live_server, settings):
    settings.WXNOTIFY_PUBLIC_URL = live_server.url  # where the patient's WeChat opens our links
    account, sim, template, subscribers, campaign = sending
    openid = subscribers(1)[0]
    c = campaign(page=PAGE)
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    opened = sim.post(f"/_sim/accounts/{account.appid}/patients/{openid}/open", {})
    assert opened["status"] == 302 and opened["location"] == PAGE
    assert Click.objects.filter(campaign=c, openid=openid).count() == 1


@pytest.mark.parametrize(
    "tampered",
    [
        lambda code: code[:-2] + ("AA" if not code.endswith("AA") else "BB"),  # signature altered
        lambda code: "9" + code,  # another delivery id under this signature
        lambda code: "not-a-code",
        lambda code: code + "?next=https://evil.example/",  # the target is never read from the request
    ],
)
def test_a_forged_or_broken_link_gets_a_clear_page_and_counts_nothing(client, sending, tampered):
    account, sim, template, subscribers, campaign = sending
    subscribers(1)
    c = campaign(page=PAGE)
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    code = clicks.link_code(Delivery.objects.get(campaign=c).pk)
    response = client.get(f"/r/{tampered(code)}")
    if response.status_code == 302:  # the query string is ignored: the approved page, never evil.example
        assert response["Location"] == PAGE
        return
    assert response.status_code == 400 and "链接无效" in response.content.decode()
    assert not Click.objects.exists()


def test_a_mini_program_only_send_hands_out_no_link(sending):
    account, sim, template, subscribers, campaign = sending
    openid = subscribers(1)[0]
    c = campaign(miniprogram_appid="wxminiprogram01", miniprogram_pagepath="pages/hpv/index")
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    content = sim.get(f"/_sim/accounts/{account.appid}/patients/{openid}")["received"][-1]["content"]
    assert content.get("page") in (None, "") and content["miniprogram"]["pagepath"] == "pages/hpv/index"
    assert services.record_click(code=clicks.link_code(Delivery.objects.get(campaign=c).pk)) is None
