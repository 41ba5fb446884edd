"""A patient's data on request (PIPL): the export holds every kind of row of that one follower and nothing of
anyone else; erasing leaves nothing that leads back to them while every statistic stays the same (also when
rebuilt from the raw rows); retention does it by itself; only an administrator may, and each request is kept
without the openid."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from openpyxl import load_workbook

from tests.conftest import as_account, fixture_xml
from tests.subscriptions.conftest import make_activity, make_template
from wxnotify.accounts.models import Membership
from wxnotify.callbacks.models import InboundMessage
from wxnotify.campaigns.models import Campaign, Click, Delivery
from wxnotify.engagement.models import SecondMessage
from wxnotify.followers.models import Follower
from wxnotify.privacy import services
from wxnotify.privacy.models import PrivacyAction
from wxnotify.stats import selectors as stats
from wxnotify.stats import services as rollups
from wxnotify.subscriptions.models import PageVisit

pytestmark = pytest.mark.django_db

PATIENT = "otFpruAK8D-E6EfStSYonYSBZ8_4"  # the fixtures' sender
OTHER = "oOtherPatient000000000000001"
TEMPLATES = ("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI")


@pytest.fixture
def hospital(make_account, push):
    """Two patients with a row of every kind, made the way they are in production: their pushes through the
    callback (follow, menu tap, a question, a subscription), a send that reached them and a tap on its link."""
    account = make_account(mode="safe")
    templates = [make_template(account, template_id=t, title=f"模板{i}") for i, t in enumerate(TEMPLATES)]
    activity = make_activity(account, *templates[:1])
    campaign = Campaign.objects.create(
        account=account,
        template=templates[0],
        name="HPV",
        audience="template",
        state="completed",
        started_at=timezone.now(),
        approved_snapshot={"page": "https://h.example.org/x"},
    )
    for openid in (PATIENT, OTHER):
        for name in ("follow.xml", "menu_click.xml", "text.xml", "subscribe_msg_popup_event.xml"):
            answer = push(account, as_account(fixture_xml(name), account, **{PATIENT: openid}))
            assert answer.status_code == 200
        delivery = Delivery.objects.create(campaign=campaign, openid=openid, state="sent", msgid=1)
        Click.objects.create(account=account, campaign=campaign, delivery=delivery, openid=openid, at=timezone.now())
        PageVisit.objects.create(account=account, activity=activity, openid=openid)
        SecondMessage.objects.create(
            account=account, openid=openid, content={"msgtype": "text", "text": {"content": "您好"}}
        )
    from wxnotify.campaigns import tally

    tally.recount(campaign.pk)
    return account, campaign


def figures(account, campaign):
    """What the statistics pages show, rebuilt from the raw rows."""
    rollups.rebuild()
    months = stats.month_range("2021-01", "2021-01")  # the fixtures' pushes are from January 2021
    (funnel,) = stats.funnels([campaign])
    growth = stats.follower_growth(account, months, "month")
    return {
        "subscriptions": [
            (s.template.template_id, s.accepts, s.first_time) for s in stats.subscriptions_by_month(account, months)
        ],
        "menu": [(u.item_id, u.taps, u.people) for u in stats.menu_use(account, months)],
        "followers": (growth.follows, growth.unfollows, growth.total),
        "funnel": (funnel.target, funnel.sent, funnel.tapped, funnel.taps),
    }


def test_the_export_holds_every_kind_of_row_of_that_follower_and_nothing_of_others(hospital):
    account, _campaign = hospital
    found = services.found(account, PATIENT)
    assert all(n >= 1 for n in found.values()), found  # every kind of row is there to export
    sheets = {title: (header, list(rows)) for title, header, rows in services.export(account, PATIENT)}
    assert len(sheets) == len(services.KINDS)
    for kind in services.KINDS:
        _header, rows = sheets[kind.label]
        assert len(rows) == found[kind.key], kind.key
        assert OTHER not in str(rows)
    assert "HPV疫苗什么时候到" in str(sheets["消息与事件"][1])  # what they wrote, too


def test_erasing_leaves_nothing_that_leads_back_and_every_statistic_the_same(hospital):
    account, campaign = hospital
    before = figures(account, campaign)
    assert before["menu"] and before["subscriptions"] and before["funnel"][2] == 2
    others = services.found(account, OTHER)
    changed = services.erase(account=account, openid=PATIENT, user=None, why="患者来电要求删除")
    assert sum(changed.values()) > 0
    assert set(services.found(account, PATIENT).values()) == {0}
    assert services.found(account, OTHER) == others  # nobody else touched
    for message in InboundMessage.objects.filter(account=account).exclude(openid=OTHER):
        assert PATIENT not in message.body and "HPV疫苗什么时候到" not in message.body
        assert message.openid.startswith("anon_")
    assert figures(account, campaign) == before  # the same figures, rebuilt from the rows left
    # The request is kept, with its rows, but not the openid.
    (action,) = PrivacyAction.objects.all()
    assert action.kind == "erase" and action.total == sum(changed.values()) and PATIENT not in str(action.__dict__)
    assert action.subject == services.digest(account, PATIENT)


def test_retention_erases_who_left_long_ago_and_empties_old_messages(hospital, settings):
    account, campaign = hospital
    settings.WXNOTIFY_RETAIN_UNFOLLOWED_DAYS = 365
    settings.WXNOTIFY_RETAIN_MESSAGES_DAYS = 180
    long_ago = timezone.now() - timedelta(days=400)
    Follower.objects.filter(openid=OTHER).update(is_following=False, unfollowed_at=long_ago)
    InboundMessage.objects.filter(openid=PATIENT, msg_type="text").update(received_at=long_ago)
    before = figures(account, campaign)
    from wxnotify.privacy import tasks

    tasks.apply_retention.call_local()
    assert set(services.found(account, OTHER).values()) == {0}  # erased: unfollowed over a year ago
    assert services.found(account, PATIENT)["follower"] == 1  # still following: kept
    old = InboundMessage.objects.get(openid=PATIENT, msg_type="text")
    assert old.body == "" and old.created_at  # its text is gone, that it was a message stays
    assert figures(account, campaign) == before
    (action,) = PrivacyAction.objects.all()
    assert action.user is None and action.why == "retention"


def test_only_an_administrator_exports_or_erases_and_the_openid_stays_out_of_urls(client, hospital):
    account, _campaign = hospital
    people = {}
    for role in ("administrator", "operator"):
        people[role] = get_user_model().objects.create_user(f"{role}-privacy")
        Membership.objects.create(user=people[role], account=account, role=role)
    client.force_login(people["operator"])
    assert client.get("/privacy/").status_code == 403
    assert (
        client.post("/privacy/", {"openid": PATIENT, "why": "x", "erase": "1", "confirm": PATIENT}).status_code == 403
    )
    client.force_login(people["administrator"])
    looked = client.post("/privacy/", {"openid": PATIENT, "why": "工单 1203", "look": "1"})
    assert looked.status_code == 200 and "关注变化" in looked.content.decode()
    no_reason = client.post("/privacy/", {"openid": PATIENT, "why": "", "export": "1"})
    assert no_reason.status_code == 200 and not PrivacyAction.objects.exists()
    exported = client.post("/privacy/", {"openid": PATIENT, "why": "工单 1203", "export": "1"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("application/vnd.openxml")
    book = load_workbook(io.BytesIO(b"".join(exported.streaming_content)))
    assert "消息与事件" in book.sheetnames and PATIENT in str([c.value for c in book["关注"]["A"]])
    unconfirmed = client.post("/privacy/", {"openid": PATIENT, "why": "工单 1203", "erase": "1", "confirm": "x"})
    assert unconfirmed.status_code == 200 and services.found(account, PATIENT)["follower"] == 1
    erased = client.post("/privacy/", {"openid": PATIENT, "why": "工单 1203", "erase": "1", "confirm": PATIENT})
    assert erased.status_code == 302 and PATIENT not in erased["Location"]
    assert set(services.found(account, PATIENT).values()) == {0}
    assert [a.kind for a in PrivacyAction.objects.order_by("id")] == ["export", "erase"]
    page = client.get("/privacy/").content.decode()
    assert "工单 1203" in page and PATIENT not in page
