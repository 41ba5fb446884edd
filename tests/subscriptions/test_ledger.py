"""The ledger driven by real pushes: credits, long-term switches, rejections, attribution, counts."""

import pytest

from tests.conftest import as_account, fixture_xml
from tests.subscriptions.conftest import make_activity
from wxnotify.subscriptions import services
from wxnotify.subscriptions.models import PageVisit, Subscription, SubscriptionEvent

OPENID = "otFpruAK8D-E6EfStSYonYSBZ8_4"


def popup(account, template_id, status="accept", scene=2, openid=OPENID, t=1610969440):
    body = fixture_xml("subscribe_msg_popup_event.xml").decode()
    body = (
        body.replace("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", template_id)
        .replace("<SubscribeStatusString><![CDATA[accept]]>", f"<SubscribeStatusString><![CDATA[{status}]]>")
        .replace("<PopupScene>2</PopupScene>", f"<PopupScene>{scene}</PopupScene>", 1)
    )
    body = body.replace("1610969440", str(t)).replace(OPENID, openid)
    return as_account(body.encode(), account)


def settings_reject(account, template_id, openid=OPENID, t=1610969999):
    body = fixture_xml("subscribe_msg_change_event.xml").decode()
    body = body.replace("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", template_id).replace("1610969440", str(t))
    return as_account(body.replace(OPENID, openid).encode(), account)


def ledger(template, openid=OPENID):
    return Subscription.objects.get(template=template, openid=openid)


def test_accept_gives_one_credit_and_two_accepts_two(push, vaccine):
    account, one_time, _, _ = vaccine
    push(account, popup(account, one_time.template_id))
    assert ledger(one_time).credits == 1
    push(account, popup(account, one_time.template_id, t=1610969500))
    row = ledger(one_time)
    assert (row.credits, row.accepts) == (2, 2) and row.first_accepted_at < row.last_accepted_at


def test_a_retried_popup_event_counts_once(push, vaccine):
    account, one_time, _, _ = vaccine
    body = popup(account, one_time.template_id)
    for _ in range(3):
        push(account, body)
    assert ledger(one_time).credits == 1
    assert SubscriptionEvent.objects.filter(kind="accept").count() == 1


def test_long_term_is_a_switch_and_settings_rejection_turns_everything_off(push, vaccine):
    account, one_time, long_term, _ = vaccine
    push(account, popup(account, long_term.template_id))
    push(account, popup(account, long_term.template_id, t=1610969501))
    row = ledger(long_term)
    assert row.long_term_on and row.credits == 0 and row.can_receive
    push(account, popup(account, one_time.template_id, t=1610969502))
    push(account, settings_reject(account, long_term.template_id))
    push(account, settings_reject(account, one_time.template_id, t=1610970000))
    assert not ledger(long_term).can_receive and not ledger(one_time).can_receive
    assert ledger(one_time).rejected_at is not None
    counts = services.template_counts(account)
    assert counts[one_time.pk] == services.Counts(historical=1, current=0)  # historical stays, current drops


def test_a_rejection_in_the_popup_records_but_grants_nothing(push, vaccine):
    account, one_time, _, _ = vaccine
    push(account, popup(account, one_time.template_id, status="reject"))
    assert ledger(one_time).credits == 0 and ledger(one_time).first_accepted_at is None
    assert SubscriptionEvent.objects.get().kind == "reject"


def test_article_accepts_are_attributed_only_when_one_open_activity_uses_the_template(push, vaccine):
    account, one_time, _, activity = vaccine
    push(account, popup(account, one_time.template_id, openid="o-first"))
    assert SubscriptionEvent.objects.get(openid="o-first").activity == activity
    second = make_activity(account, one_time, title="第二批疫苗")
    push(account, popup(account, one_time.template_id, openid="o-second"))
    assert SubscriptionEvent.objects.get(openid="o-second").activity is None  # ambiguous: unattributed
    assert services.unattributed_accepts(account) == 1
    second.archived = True
    second.save()
    push(account, popup(account, one_time.template_id, openid="o-third"))
    assert SubscriptionEvent.objects.get(openid="o-third").activity == activity


def test_h5_accepts_follow_the_page_the_patient_opened(push, vaccine):
    account, one_time, _, activity = vaccine
    other = make_activity(account, one_time, title="第二批疫苗")
    PageVisit.objects.create(account=account, activity=other, openid=OPENID)
    import time

    push(account, popup(account, one_time.template_id, scene=1, t=int(time.time())))
    assert SubscriptionEvent.objects.get().activity == other
    assert services.activity_counts(other)[one_time.pk] == services.Counts(1, 1)
    assert services.activity_counts(activity)[one_time.pk] == services.Counts(0, 0)


def test_a_template_of_another_account_changes_nothing(push, vaccine, make_account):
    account, one_time, _, _ = vaccine
    stranger = make_account(mode="safe")
    response = push(stranger, popup(stranger, one_time.template_id))
    assert response.status_code == 200  # WeChat gets its "success"; the push is in the raw log only
    assert not Subscription.objects.exists() and not SubscriptionEvent.objects.exists()


@pytest.mark.parametrize("scene", [1, 2])
def test_counts_per_template_and_per_activity(push, vaccine, scene):
    """Without a page visit an H5 accept falls back to the article rule (the one open activity)."""
    account, one_time, _, activity = vaccine
    for i in range(5):
        push(account, popup(account, one_time.template_id, openid=f"o-{i}", scene=scene))
    push(account, settings_reject(account, one_time.template_id, openid="o-0"))
    assert services.template_counts(account)[one_time.pk] == services.Counts(5, 4)
    assert services.activity_counts(activity)[one_time.pk] == services.Counts(5, 4)
