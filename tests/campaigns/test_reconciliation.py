"""WeChat's subscribe_msg_sent_event settles deliveries whose answer was lost, and confirms the others."""

import time

from django.utils import timezone

from tests.conftest import as_account, fixture_xml
from wxnotify.campaigns.models import Campaign, Delivery
from wxnotify.subscriptions.models import Subscription, Template
from wxnotify.subscriptions.services import parse_keywords

OPENID = "otFpruAK8D-E6EfStSYonYSBZ8_4"
TEMPLATE_ID = "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"


def setup(account, state):
    content = "疫苗名称:{{thing1.DATA}}\n"
    template = Template.objects.create(
        account=account,
        template_id=TEMPLATE_ID,
        title="疫苗到货通知",
        content=content,
        kind=Template.Kind.ONE_TIME,
        keywords=parse_keywords(content),
    )
    Subscription.objects.create(account=account, template=template, openid=OPENID, credits=1)
    campaign = Campaign.objects.create(
        account=account, name="c", template=template, audience="template", data={"thing1": "x"}, state="sending"
    )
    return Delivery.objects.create(campaign=campaign, openid=OPENID, state=state, attempt_started_at=timezone.now())


def sent_event(account, msgid=1700827132819554304, when=None):
    body = fixture_xml("subscribe_msg_sent_event.xml").decode().replace("1610969440", str(when or int(time.time())))
    return as_account(body.replace("1700827132819554304", str(msgid)).encode(), account)


def test_an_unknown_delivery_becomes_sent_and_uses_the_credit(push, make_account):
    account = make_account()
    delivery = setup(account, Delivery.State.UNKNOWN)
    assert push(account, sent_event(account)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT and delivery.msgid == 1700827132819554304 and delivery.confirmed_at
    assert Subscription.objects.get(openid=OPENID).credits == 0


def test_a_delivery_still_waiting_for_its_answer_is_settled_too(push, make_account):
    account = make_account()
    delivery = setup(account, Delivery.State.SENDING)
    push(account, sent_event(account))
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT


def test_a_known_msgid_is_only_confirmed(push, make_account):
    account = make_account()
    delivery = setup(account, Delivery.State.SENT)
    Delivery.objects.filter(pk=delivery.pk).update(msgid=42)
    push(account, sent_event(account, msgid=42))
    delivery.refresh_from_db()
    assert delivery.confirmed_at is not None and Subscription.objects.get(openid=OPENID).credits == 1


def test_another_accounts_report_confirms_nothing_here(push, make_account):
    """msgids are WeChat's: a report signed by another account (its own send, the same number) leaves this
    account's row alone."""
    account, other = make_account(), make_account(appid="wx0000000000000002", original_id="gh_000000000002")
    delivery = setup(account, Delivery.State.SENT)
    Delivery.objects.filter(pk=delivery.pk).update(msgid=42)
    assert push(other, sent_event(other, msgid=42)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.confirmed_at is None
