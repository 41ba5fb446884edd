"""The engine wired to the database and to the simulated WeChat: exactly once with several engines,
halts on campaign-wide errors, strict mode, resume after a fix, the ledger kept in step."""

import asyncio
import threading

import pytest
from django.db import connections

from wxnotify.campaigns import selectors, services
from wxnotify.campaigns.models import AuditEntry, Campaign, Delivery
from wxnotify.campaigns.sending.engine import EngineConfig
from wxnotify.campaigns.sending.runner import run_campaign
from wxnotify.subscriptions.models import Subscription

pytestmark = pytest.mark.django_db(transaction=True)
CONFIG = EngineConfig(
    batch_size=100, concurrency=8, idle_seconds=0.05, state_check_seconds=0.05, flush_seconds=0.05, backoff_seconds=0.01
)


def assert_tally_exact(campaign) -> None:
    """The counts kept in step by every write equal a count of the rows."""
    from wxnotify.campaigns import tally

    kept = {s: n for s, n in tally.counts(campaign.pk).items() if n}
    assert kept == tally.recount(campaign.pk), kept


def run_engines(campaign_id: int, n: int = 2) -> list:
    reports = [None] * n

    def one(i):
        try:
            reports[i] = asyncio.run(run_campaign(campaign_id, worker=f"engine-{i}", config=CONFIG))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return reports


def test_two_engines_deliver_to_everyone_exactly_once(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(600)
    c = campaign()
    assert services.start(campaign=c, user=None, workers=0) == 600
    reports = run_engines(c.pk, 2)
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED
    assert all(r.attempted > 0 for r in reports)
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == 600 and received["more_than_once"] == []
    assert selectors.progress(c)["sent"] == 600
    assert not Subscription.objects.filter(template=template, credits__gt=0).exists()  # one credit used each
    assert set(Delivery.objects.filter(campaign=c).values_list("msgid", flat=True).distinct()).isdisjoint({None})
    assert AuditEntry.objects.filter(campaign=c, action="send").exists()
    assert_tally_exact(c)


def test_a_sensitive_word_halts_at_once_and_resume_after_the_fix_sends_the_rest_once(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(300)
    sim.post("/_sim/sensitive-words", {"words": ["抢购"]})
    c = campaign(
        data={"thing1": "九价HPV疫苗", "date2": "2026年12月1日", "thing3": "预防接种门诊", "thing5": "限时抢购"}
    )
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 2)
    c.refresh_from_db()
    assert c.state == Campaign.State.HALTED and c.stop_errcode == 45168 and "keyword in blacklist" in c.stop_reason
    calls = sim.get("/_sim/stats")["calls"]["/cgi-bin/message/subscribe/bizsend"]
    assert calls == {"45168": calls["45168"]} and calls["45168"] <= 2 * CONFIG.concurrency  # only what was in flight
    assert selectors.progress(c)["sent"] == 0
    c.data = {**c.data, "thing5": "点击卡片立即预约"}  # the operator fixes the content
    c.save()
    services.resume(campaign=c, user=None, workers=0)
    run_engines(c.pk, 2)
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == 300 and received["more_than_once"] == []
    assert_tally_exact(c)


def test_an_invalid_field_value_halts_before_reaching_anyone(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(50)
    c = campaign(data={"thing1": "九价HPV疫苗", "date2": "十二月", "thing3": "预防接种门诊", "thing5": "预约"})
    with pytest.raises(services.CampaignError, match="到货时间"):
        services.start(campaign=c, user=None, workers=0)
    assert not Delivery.objects.exists()


@pytest.mark.parametrize("cause", ["template deleted upstream (40037)", "WeChat stricter than our check (47003)"])
def test_a_campaign_wide_error_from_wechat_halts_within_the_sends_in_flight(sending, client, cause):
    """Our checks passed, WeChat still refuses everyone: the first answers halt it, the page says why."""
    from tests.campaigns.test_console_pages import member
    from wxnotify.accounts.wechat import account_api

    account, sim, template, subscribers, campaign = sending
    subscribers(400)
    if "40037" in cause:

        async def delete() -> None:
            async with account_api(account) as api:
                await api.client.delete_template(template_id=template.template_id)

        asyncio.run(delete())
    else:
        sim.post(
            "/_sim/faults",
            {
                "path": "/cgi-bin/message/subscribe/bizsend",
                "errcode": 47003,
                "errmsg": "argument invalid! data.thing3.value invalid",
            },
        )
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 2)
    c.refresh_from_db()
    code = 40037 if "40037" in cause else 47003
    assert c.state == Campaign.State.HALTED and c.stop_errcode == code
    calls = sim.get("/_sim/stats")["calls"]["/cgi-bin/message/subscribe/bizsend"]
    assert calls == {str(code): calls[str(code)]} and calls[str(code)] <= 2 * CONFIG.concurrency
    progress = selectors.progress(c)
    assert progress["sent"] == 0 and progress["pending"] == 400  # nobody lost: all wait for the fix
    member(client, account, "operator")
    page = client.get(f"/campaigns/{c.pk}/").content.decode()
    assert str(code) in page and "继续发送" in page


def test_strict_mode_halts_on_the_first_refusal(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(200, product_only=1)  # WeChat will answer 43101 for the last one
    c = campaign(strict=True)
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    c.refresh_from_db()
    assert c.state == Campaign.State.HALTED and c.stop_reason.startswith("strict mode: 43101")
    refused = Delivery.objects.get(campaign=c, errcode=43101)
    assert refused.state == Delivery.State.FAILED
    assert Subscription.objects.get(template=template, openid=refused.openid).credits == 0  # the ledger learnt


def test_recipient_errors_are_recorded_and_the_send_goes_on(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(100, product_only=3)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED
    progress = selectors.progress(c)
    assert (progress["sent"], progress["failed"]) == (100, 3)
    assert_tally_exact(c)


def test_people_without_credit_are_skipped_without_calling_wechat(sending):
    account, sim, template, subscribers, campaign = sending
    openids = subscribers(20)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    Subscription.objects.filter(template=template, openid__in=openids[:5]).update(credits=0)  # used elsewhere meanwhile
    run_engines(c.pk, 1)
    assert selectors.progress(c)["skipped"] == 5
    assert sim.get("/_sim/stats")["calls"]["/cgi-bin/message/subscribe/bizsend"] == {"0": 15}
    assert_tally_exact(c)


def test_pause_and_cancel_are_audited_and_respected(sending):
    account, sim, template, subscribers, campaign = sending
    subscribers(30)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    services.pause(campaign=c, user=None)
    run_engines(c.pk, 1)
    assert selectors.progress(c)["sent"] == 0
    services.cancel(campaign=c, user=None)
    c.refresh_from_db()
    assert c.state == Campaign.State.CANCELLED and selectors.progress(c)["cancelled"] == 30
    assert list(AuditEntry.objects.filter(campaign=c).order_by("id").values_list("action", flat=True)) == [
        "send",
        "pause",
        "cancel",
    ]
    with pytest.raises(services.CampaignError):
        services.resume(campaign=c, user=None)


def test_retry_only_the_transient_failures(sending, settings):
    account, sim, template, subscribers, campaign = sending
    settings.WXNOTIFY_SEND_BACKOFF_SECONDS = 0.01
    subscribers(40, product_only=2)
    # WeChat is busy for the first 200 calls: 42 recipients × 4 rounds, then a fifth round for 32 of them: they give up.
    sim.post("/_sim/faults", {"path": "/cgi-bin/message/subscribe/bizsend", "errcode": -1, "count": 200})
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    c.refresh_from_db()
    failed_busy = Delivery.objects.filter(campaign=c, state="failed", errcode=-1).count()
    assert c.state == Campaign.State.COMPLETED and failed_busy >= 20
    n = services.retry_failed_transient(campaign=c, user=None)
    assert n == failed_busy
    sim.request("DELETE", "/_sim/faults")
    run_engines(c.pk, 1)
    progress = selectors.progress(c)
    assert progress["sent"] == 40 and progress["failed"] == 2  # the two WeChat refused stay refused
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["more_than_once"] == []
    assert_tally_exact(c)


@pytest.mark.parametrize("canary", [{"canary_count": 20}, {"canary_percent": 16}])  # 16% of 120 → 20
def test_a_canary_goes_to_the_first_n_then_waits_for_continue(sending, canary):
    account, sim, template, subscribers, campaign = sending
    subscribers(120)
    c = campaign(**canary)
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 2)
    c.refresh_from_db()
    assert c.state == Campaign.State.PAUSED and c.stop_reason.startswith("canary") and c.canary_count == 20
    assert selectors.progress(c)["sent"] == 20  # exactly the canary, even with two engines
    services.resume(campaign=c, user=None, workers=0)  # the operator looked at the first 20 and said "continue"
    run_engines(c.pk, 2)
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED and selectors.progress(c)["sent"] == 120
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == 120 and received["more_than_once"] == []
    assert_tally_exact(c)


def test_the_daily_quota_pauses_the_send_and_it_goes_on_after_midnight(sending):
    from datetime import timedelta

    from django.utils import timezone

    from wxnotify.campaigns import tasks

    account, sim, template, subscribers, campaign = sending
    subscribers(120)
    sim.post("/_sim/quotas", {"daily": {"/cgi-bin/message/subscribe/bizsend": 80}})
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 2)
    c.refresh_from_db()
    assert c.state == Campaign.State.PAUSED and c.stop_errcode == 45009
    progress = selectors.progress(c)
    assert progress["sent"] == 80 and progress["failed"] == 0 and progress["pending"] == 40  # nobody failed for it
    tasks.start_due_campaigns.call_local()
    c.refresh_from_db()
    assert c.state == Campaign.State.PAUSED  # the same day: still waiting
    sim.post("/_sim/clock", {"advance": 86400})  # WeChat's new day …
    yesterday = timezone.now() - timedelta(days=1)
    c.audit.filter(action="auto_paused").update(at=yesterday)  # … and ours: it stopped before midnight
    tasks.start_due_campaigns.call_local()  # resumes; the queue runs inline in tests
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED and selectors.progress(c)["sent"] == 120
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == 120 and received["more_than_once"] == []
    assert_tally_exact(c)


def test_a_worker_whose_lease_ran_out_neither_sends_nor_overwrites_what_another_took(sending):
    """A worker stalls past its lease (CPU starved, a long GC pause); another takes its rows and sends
    them. When the first wakes up it must not send them again nor write its stale view over theirs."""
    import time

    from wxnotify.campaigns.sending.django_store import DjangoStore
    from wxnotify.campaigns.sending.ports import Job, Settlement

    account, sim, template, subscribers, campaign = sending
    subscribers(3)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    slow, fast = DjangoStore(c.pk, "slow"), DjangoStore(c.pk, "fast")
    stale = asyncio.run(slow.claim(limit=10, lease_seconds=0.01))
    assert len(stale) == 3
    time.sleep(0.05)  # the slow worker's lease runs out
    taken = asyncio.run(fast.claim(limit=10, lease_seconds=60))
    assert sorted(j.delivery_id for j in taken) == sorted(j.delivery_id for j in stale)
    jobs = [Job(j.delivery_id, j.openid) for j in stale]
    assert asyncio.run(slow.start(jobs)) == set()  # not ours any more: nothing is sent
    assert asyncio.run(fast.start(jobs)) == {j.delivery_id for j in jobs}
    sent = [Settlement(j.delivery_id, j.openid, "sent", 0, "ok", 900 + i, use_credit=True) for i, j in enumerate(taken)]
    asyncio.run(fast.settle(sent))
    released = [Settlement(j.delivery_id, j.openid, "pending", released=True) for j in stale]
    asyncio.run(slow.settle(released))  # its stale view of the batch
    rows = list(Delivery.objects.filter(campaign=c).values_list("state", "worker", "attempts"))
    assert rows == [("sent", "fast", 1)] * 3
    assert asyncio.run(fast.finish_if_done())
    # The other engine finishing after it finds the send completed (it used to raise: a traceback per send
    # in the workers' log when two engines finished together); completed once, audited once.
    assert asyncio.run(slow.finish_if_done())
    assert c.audit.filter(action="completed").count() == 1
    assert_tally_exact(c)
    for store in (slow, fast):
        asyncio.run(store.close())


def test_a_report_settling_a_row_while_it_is_written_back_uses_the_credit_once(sending):
    """WeChat's delivery report (the real handlers.on_sent) and the worker's write-back meet on one row: the
    report's transaction commits while the write-back waits for it (PostgreSQL: the write-back's UPDATE is
    seen waiting on the row's lock; SQLite lets one writer in at a time, so it waits at its BEGIN); the
    credit is used once."""
    import threading
    import time

    from django.db import connection, connections, transaction

    from wechat.messages import SentResult, SubscribeSentEvent
    from wxnotify.campaigns.handlers import on_sent
    from wxnotify.campaigns.sending.django_store import DjangoStore
    from wxnotify.campaigns.sending.ports import Job, Settlement

    def write_back_is_waiting() -> bool:
        """On PostgreSQL: another backend waits for a lock this transaction holds."""
        if connection.vendor != "postgresql":
            return writing.is_set()  # it cannot begin until this transaction ends, whenever it starts
        with connection.cursor() as cursor:
            # Someone waits for this transaction to end (a row it locked); pg_locks is read afresh each time,
            # pg_stat_activity would be one snapshot per transaction.
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' "
                "AND transactionid::text = pg_current_xact_id()::text"
            )
            return cursor.fetchone()[0] > 0

    account, sim, template, subscribers, campaign = sending
    (openid,) = subscribers(1)
    Subscription.objects.filter(template=template, openid=openid).update(credits=2)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    store = DjangoStore(c.pk, "w")
    (job,) = asyncio.run(store.claim(limit=10, lease_seconds=60))
    asyncio.run(store.start([Job(job.delivery_id, job.openid)]))
    settling, writing, written = threading.Event(), threading.Event(), threading.Event()
    waited: list[bool] = []

    def report() -> None:  # WeChat's report through the handler, held open until the write-back waits on it
        event = SubscribeSentEvent(
            account_original_id=account.original_id,
            openid=openid,
            create_time=int(time.time()),
            msg_type="event",
            results=(SentResult(template_id=template.template_id, msg_id=777, error_code=0, error_status="success"),),
        )
        try:
            with transaction.atomic():
                on_sent(account, event, None)
                settling.set()
                deadline = time.monotonic() + 10
                while not write_back_is_waiting() and time.monotonic() < deadline:
                    time.sleep(0.01)
                waited.append(write_back_is_waiting())
        finally:
            connections.close_all()

    def write_back() -> None:
        try:
            writing.set()
            settled = Settlement(job.delivery_id, openid, "sent", 0, "ok", 777, use_credit=True)
            asyncio.run(store.settle([settled]))
            written.set()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=report), threading.Thread(target=write_back)]
    threads[0].start()
    assert settling.wait(10)
    threads[1].start()
    for t in threads:
        t.join(30)
    asyncio.run(store.close())
    assert written.is_set() and waited == [True]
    assert Subscription.objects.get(template=template, openid=openid).credits == 1  # used once, not twice
    assert Delivery.objects.get(pk=job.delivery_id).state == "sent"


def test_cancel_during_a_send_leaves_every_row_final(sending):
    """Cancelled while two engines have batches out: what they had not sent yet ends cancelled, not pending."""
    import threading
    import time

    account, sim, template, subscribers, campaign = sending
    subscribers(400)
    sim.post("/_sim/faults", {"path": "/cgi-bin/message/subscribe/bizsend", "latency_ms": {"fixed": 20}})
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    engines = threading.Thread(target=run_engines, args=(c.pk, 2))
    engines.start()
    deadline = time.monotonic() + 30
    while selectors.progress(c)["sent"] < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    services.cancel(campaign=c, user=None)
    engines.join(60)
    progress = selectors.progress(c)
    assert progress["pending"] == progress["claimed"] == progress["sending"] == 0, progress
    assert progress["sent"] + progress["cancelled"] == 400 and progress["cancelled"] > 0 and progress["unknown"] == 0
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == progress["sent"] and received["more_than_once"] == []  # the log tells the truth
    assert_tally_exact(c)


def test_retry_unknown_on_a_completed_send_sends_them_and_completes_again(sending, settings):
    """It set the rows back to pending and left the campaign completed: nobody ever sent them."""
    account, sim, template, subscribers, campaign = sending
    settings.WECHAT_HTTP_TIMEOUT = 0.5
    subscribers(30)
    sim.post("/_sim/faults", {"path": "/cgi-bin/message/subscribe/bizsend", "timeout": True, "count": 4})
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    c.refresh_from_db()
    assert c.state == Campaign.State.COMPLETED and selectors.progress(c)["unknown"] == 4
    assert services.retry_unknown(campaign=c, user=None) == 4  # the queue runs inline in tests: a worker sends
    c.refresh_from_db()
    progress = selectors.progress(c)
    assert c.state == Campaign.State.COMPLETED and progress["sent"] == 30 and progress["pending"] == 0
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == 30 and received["more_than_once"] == []
    assert_tally_exact(c)


def test_a_cancelled_send_is_not_retried(sending):
    account, sim, template, subscribers, campaign = sending
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    services.cancel(campaign=c, user=None)
    with pytest.raises(services.CampaignError):
        services.retry_unknown(campaign=c, user=None)


def test_a_late_halt_from_before_a_resume_does_not_halt_the_resumed_send(sending):
    """One engine halted the send (WeChat refused the template); the operator fixed it and resumed; then the
    other engine, still taking in answers to requests it sent before the halt, decides the same halt. Its
    stale decision leaves the resumed send sending (make chaos met this with two engines on SQLite)."""
    from wxnotify.campaigns.sending.django_store import DjangoStore
    from wxnotify.campaigns.sending.ports import RunState

    _account, _sim, _template, subscribers, campaign = sending
    subscribers(5)
    c = campaign()
    services.start(campaign=c, user=None, workers=0)
    first, second = DjangoStore(c.pk, "engine-1"), DjangoStore(c.pk, "engine-2")

    async def both_begin() -> None:
        await first.plan()
        await second.plan()

    asyncio.run(both_begin())
    asyncio.run(first.stop(RunState.HALTED, reason="40037: invalid template_id", errcode=40037))
    c.refresh_from_db()
    assert c.state == Campaign.State.HALTED
    services.resume(campaign=c, user=None, workers=0)
    asyncio.run(second.stop(RunState.HALTED, reason="40037: invalid template_id", errcode=40037))
    c.refresh_from_db()
    assert c.state == Campaign.State.SENDING and c.stop_reason == ""
    assert c.audit.filter(action="auto_halted").count() == 1
    for store in (first, second):
        asyncio.run(store.close())
