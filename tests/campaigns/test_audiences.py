"""Who a send goes to: follow-ups to those not yet sent, corrections to exactly those a send reached,
people who unfollowed (skipped unless asked), pre-flight counts, and the older one-time message."""

import pytest

from tests.campaigns.test_sending_on_wxsim import run_engines
from wxnotify.campaigns import selectors, services
from wxnotify.campaigns.models import Campaign, Delivery
from wxnotify.followers.models import Follower
from wxnotify.subscriptions.models import Subscription, Template
from wxnotify.subscriptions.services import ensure_legacy_template

pytestmark = pytest.mark.django_db(transaction=True)


def received(sim, account, template_id: str, kind: str = "subscribe") -> dict:
    return sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template_id}&kind={kind}&detail=1")


def send(campaign: Campaign) -> Campaign:
    services.start(campaign=campaign, user=None, workers=0)
    run_engines(campaign.pk, 1)
    campaign.refresh_from_db()
    return campaign


def test_follow_ups_reach_only_those_who_subscribed_after_the_first_send(sending):
    account, sim, template, subscribers, campaign = sending
    first = subscribers(5)
    original = send(campaign(name="HPV 疫苗到货"))
    assert original.state == Campaign.State.COMPLETED and selectors.progress(original)["sent"] == 5

    later = subscribers(3)
    # One of the first five subscribes again: they were sent the notice already, a follow-up leaves them out.
    Subscription.objects.filter(template=template, openid=first[0]).update(credits=1)
    follow_up = campaign(name="补发", audience=Campaign.Audience.NOT_YET_SENT, source_campaign=original)
    assert sorted(selectors.audience(follow_up)) == sorted(later)
    assert selectors.preflight(follow_up)["eligible"] == 3
    send(follow_up)

    latest = subscribers(2)
    # A follow-up of the follow-up leaves out everyone the family reached: the first five and the three.
    again = campaign(name="再次补发", audience=Campaign.Audience.NOT_YET_SENT, source_campaign=follow_up)
    assert sorted(selectors.audience(again)) == sorted(latest)
    send(again)

    got = received(sim, account, template.template_id)
    assert got["total"] == 10 and got["more_than_once"] == []


def test_a_correction_goes_to_exactly_those_a_send_reached(sending):
    account, sim, template, subscribers, campaign = sending
    # Two credits each (two accepts): the notice uses one, the correction the other.
    reached = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 4, "credits": {template.template_id: 2}})[
        "openids"
    ]
    Subscription.objects.bulk_create(
        [Subscription(account=account, template=template, openid=o, credits=2, accepts=2) for o in reached]
    )
    refused = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 2})["openids"]
    Subscription.objects.bulk_create(  # our ledger says yes, WeChat answers 43101 for these two
        [Subscription(account=account, template=template, openid=o, credits=1, accepts=1) for o in refused]
    )
    original = send(campaign(name="讲座时间"))
    assert selectors.progress(original)["sent"] == 4 and selectors.progress(original)["failed"] == 2
    # Someone subscribed later: not reached, so not corrected.
    newcomer = subscribers(1)
    # One of those reached has since unfollowed: skipped, and the pre-flight says so.
    Follower.objects.create(account=account, openid=reached[3], is_following=False)

    correction = campaign(
        name="更正：讲座改到下午",
        audience=Campaign.Audience.REACHED_BY,
        source_campaign=original,
        data={
            "thing1": "健康讲座更正",
            "date2": "2026年12月1日",
            "thing3": "门诊楼三楼报告厅",
            "thing5": "时间改为下午",
        },
    )
    check = selectors.preflight(correction)
    assert (check["target"], check["eligible"], check["unfollowed"], check["no_credit"]) == (4, 3, 1, 0)
    assert set(selectors.audience(correction)) == set(reached[:3])
    assert not set(selectors.audience(correction)) & set(refused + newcomer)
    send(correction)

    counts = received(sim, account, template.template_id)["counts"]
    assert {o: counts.get(o, 0) for o in reached + newcomer} == {
        reached[0]: 2,
        reached[1]: 2,
        reached[2]: 2,
        reached[3]: 1,  # unfollowed: only the original
        newcomer[0]: 0,
    }

    # Asked to include people who unfollowed (WeChat shows it in 服务通知): they are in.
    again = campaign(
        name="更正（含已取关）",
        audience=Campaign.Audience.REACHED_BY,
        source_campaign=original,
        include_unfollowed=True,
    )
    assert set(selectors.audience(again)) == {reached[3]}  # the others used their second credit


def test_someone_who_unfollows_after_the_start_is_skipped_and_the_log_says_why(sending):
    account, sim, template, subscribers, campaign = sending
    openids = subscribers(3)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    Follower.objects.create(account=account, openid=openids[1], is_following=False)
    run_engines(c.pk, 1)
    rows = dict(Delivery.objects.filter(campaign=c).values_list("openid", "errmsg"))
    assert rows[openids[1]] == "unfollowed"
    assert Delivery.objects.get(campaign=c, openid=openids[1]).state == Delivery.State.SKIPPED
    assert received(sim, account, template.template_id)["total"] == 2
    assert Subscription.objects.get(template=template, openid=openids[1]).credits == 1  # nothing used


def test_the_pre_flight_counts_people_without_a_credit(sending):
    account, sim, template, subscribers, campaign = sending
    openids = subscribers(4)
    Subscription.objects.filter(template=template, openid__in=openids[:1]).update(credits=0)
    check = selectors.preflight(campaign())
    assert (check["target"], check["eligible"], check["no_credit"], check["unfollowed"]) == (4, 3, 1, 0)


def test_the_older_one_time_message_uses_one_authorised_scene_per_send(sending):
    account, sim, template, subscribers, campaign = sending
    account.one_time_template_id = sim.get(f"/_sim/accounts/{account.appid}")["one_time_template_id"]
    account.save()
    legacy = ensure_legacy_template(account)
    assert legacy is not None and legacy.kind == Template.Kind.LEGACY_ONE_TIME
    # Two patients authorised scenes 7 and 8 (two sends), one only scene 7, one nothing on WeChat's side.
    two = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 2, "one_time_scenes": [7, 8]})["openids"]
    one = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1, "one_time_scenes": [7]})["openids"]
    stale = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"]
    rows = [(o, [7, 8]) for o in two] + [(o, [7]) for o in one] + [(o, [9]) for o in stale]
    Subscription.objects.bulk_create(
        [Subscription(account=account, template=legacy, openid=o, credits=len(s), legacy_scenes=s) for o, s in rows]
    )

    def notice(title: str, save: bool = True) -> Campaign:
        return (Campaign.objects.create if save else Campaign)(
            account=account,
            name=title,
            template=legacy,
            audience=Campaign.Audience.TEMPLATE,
            title=title,
            data={"content": "九价 HPV 疫苗 12 月 1 日起可预约，请点击进入预约页面。"},
            page="https://hospital.example.cn/hpv",
        )

    bad = notice("这是一个超过十五个字的标题会被微信拒绝", save=False)  # the form stops it before the database
    assert [e.key for e in services.content_errors(bad)] == ["title"]

    first = send(notice("疫苗到货提醒"))
    progress = selectors.progress(first)
    assert (progress["sent"], progress["failed"]) == (3, 1)  # the stale one: WeChat answers 43101
    assert Delivery.objects.get(campaign=first, openid=stale[0]).errcode == 43101
    ledger = dict(Subscription.objects.filter(template=legacy).values_list("openid", "legacy_scenes"))
    assert ledger == {two[0]: [8], two[1]: [8], one[0]: [], stale[0]: []}
    assert set(Delivery.objects.filter(campaign=first, state="sent").values_list("scene", flat=True)) == {7}

    second = send(notice("接种时间提醒"))
    assert selectors.progress(second)["sent"] == 2  # only the two with a scene left, each on scene 8
    got = received(sim, account, legacy.template_id, kind="one_time")
    assert got["counts"] == {two[0]: 2, two[1]: 2, one[0]: 1}
    inbox = sim.get(f"/_sim/accounts/{account.appid}/patients/{one[0]}")["received"]
    assert inbox[-1]["content"]["title"] == "疫苗到货提醒"
