"""The rules of a send, on their own and through the engine with the in-memory store: skips (no credit,
unfollowed, the older one-time message's scenes), the canary, quiet hours, what each answer does to the
delivery and the ledger, retries, halts. The database store only persists what these decide."""

import asyncio
from datetime import UTC, datetime, time

import pytest

from wxnotify.campaigns.sending import rules
from wxnotify.campaigns.sending.engine import Engine, EngineConfig
from wxnotify.campaigns.sending.memory import MemoryCampaign, ScriptedMessenger, Unlimited
from wxnotify.campaigns.sending.ports import Candidate, Content, Outcome, Plan, Policy, Result, RunState, SendAnswer

CONTENT = Content("TPL", {"thing1": "九价HPV疫苗"})
FAST = EngineConfig(batch_size=20, concurrency=4, idle_seconds=0.005, state_check_seconds=0.005, flush_seconds=0.01)
NOON = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def people(n):
    return [f"o{i:04d}" for i in range(n)]


def send_all(campaign, messenger=None, *, config=FAST, workers=1):
    messenger = messenger or ScriptedMessenger()

    async def main():
        engines = [Engine(campaign.store(f"w{i}"), messenger, Unlimited(), config) for i in range(workers)]
        return await asyncio.gather(*(e.run() for e in engines))

    return asyncio.run(main()), messenger


def test_triage_skips_without_credit_and_unfollowed_unless_asked():
    plan = Plan(CONTENT)
    candidates = [
        Candidate(1, "a", 1, has_credit=True),
        Candidate(2, "b", 1, has_credit=False),
        Candidate(3, "c", 1, has_credit=True, following=False),
    ]
    jobs, skips = rules.triage(candidates, plan)
    assert [j.openid for j in jobs] == ["a"] and skips == [(2, rules.NO_CREDIT), (3, rules.UNFOLLOWED)]
    jobs, skips = rules.triage(candidates, Plan(CONTENT, skip_unfollowed=False))
    assert [j.openid for j in jobs] == ["a", "c"] and skips == [(2, rules.NO_CREDIT)]


def test_the_older_one_time_message_uses_one_scene_per_send_oldest_first():
    campaign = MemoryCampaign.with_recipients(people(3), CONTENT, legacy=True)
    campaign.ledger.scenes = {"o0000": [7, 3], "o0001": [5], "o0002": []}
    [report], messenger = send_all(campaign)
    assert campaign.by_state() == {"sent": 2, "skipped": 1}
    assert sorted(s for s in messenger.scenes if s is not None) == [3, 5]  # 3 before 7
    assert campaign.ledger.scenes == {"o0000": [7], "o0001": [], "o0002": []}  # the scene used is gone
    assert campaign.ledger.credits["o0000"] == 1 and campaign.ledger.credits["o0001"] == 0


def test_a_sent_one_time_notification_uses_a_credit_and_43101_zeroes_the_ledger():
    campaign = MemoryCampaign.with_recipients(people(4), CONTENT)
    campaign.ledger.credits["o0000"] = 3

    def script(openid, n):
        return (
            SendAnswer(Outcome.RECIPIENT, 43101, "refused")
            if openid == "o0001"
            else SendAnswer(Outcome.SENT, 0, "ok", n)
        )

    send_all(campaign, ScriptedMessenger(script=script))
    assert dict(campaign.ledger.credits) == {"o0000": 2, "o0001": 0, "o0002": 0, "o0003": 0}
    long_term = MemoryCampaign.with_recipients(people(2), CONTENT, long_term=True)
    send_all(long_term)
    assert dict(long_term.ledger.credits) == {"o0000": 1, "o0001": 1}  # a long-term subscription is not used up


def test_people_who_unfollowed_are_skipped_without_calling_wechat():
    campaign = MemoryCampaign.with_recipients(people(5), CONTENT)
    campaign.ledger.unfollowed = {"o0001", "o0003"}
    _, messenger = send_all(campaign)
    assert campaign.by_state() == {"sent": 3, "skipped": 2} and messenger.calls == 3
    assert {r.errmsg for r in campaign.rows.values() if r.state == "skipped"} == {rules.UNFOLLOWED}


def test_a_canary_stops_at_its_count_even_with_two_engines_then_waits_for_the_operator():
    campaign = MemoryCampaign.with_recipients(people(100), CONTENT, canary_count=15)
    reports, messenger = send_all(campaign, ScriptedMessenger(delay=0.002), workers=2)
    assert campaign.state == RunState.PAUSED and campaign.halt_reason.startswith("canary")
    assert campaign.by_state() == {"sent": 15, "pending": 85} and messenger.calls == 15


@pytest.mark.parametrize(
    ("quiet", "paused"),
    [((time(22), time(7)), False), ((time(11), time(13)), True), ((time(12), time(12, 1)), True), (None, False)],
)
def test_quiet_hours_in_the_accounts_zone_pause_the_send(quiet, paused):
    campaign = MemoryCampaign.with_recipients(people(10), CONTENT, quiet=quiet, zone="Asia/Shanghai")
    config = EngineConfig(
        concurrency=2, idle_seconds=0.005, state_check_seconds=0.005, flush_seconds=0.01, clock=lambda: NOON
    )
    _, messenger = send_all(campaign, config=config)
    assert (campaign.state == RunState.PAUSED) == paused
    assert messenger.calls == (0 if paused else 10)
    if paused:
        assert campaign.halt_reason == rules.QUIET_REASON


def test_quiet_hours_that_cross_midnight():
    late = (time(22), time(7))
    assert rules.in_quiet_hours(late, datetime(2026, 11, 30, 15, 30, tzinfo=UTC), "Asia/Shanghai")  # 23:30
    assert rules.in_quiet_hours(late, datetime(2026, 11, 29, 22, 0, tzinfo=UTC), "Asia/Shanghai")  # 06:00
    assert not rules.in_quiet_hours(late, datetime(2026, 11, 29, 23, 0, tzinfo=UTC), "Asia/Shanghai")  # 07:00


def test_the_minute_quota_retries_in_the_next_minute_and_others_back_off_doubling():
    now = datetime(2026, 11, 30, 4, 0, 45, tzinfo=UTC)
    assert rules.retry_delay(1, 45011, base=1.0, now=now) == 16.0
    assert [rules.retry_delay(n, -1, base=1.0, now=now) for n in (1, 2, 3, 8)] == [1.0, 2.0, 4.0, 60.0]


def test_the_minute_quota_holds_everyone_until_the_minute_of_the_request_is_over():
    asked = datetime(2026, 11, 30, 4, 0, 45, tzinfo=UTC)
    assert rules.quota_hold(45011, asked_at=asked, now=asked.replace(second=46)) == 15.0  # to 04:01:01
    # a slow refusal that comes back after the minute turned: only the second's margin is left
    assert (
        rules.quota_hold(
            45011, asked_at=asked.replace(second=59), now=datetime(2026, 11, 30, 4, 1, 0, 500_000, tzinfo=UTC)
        )
        == 0.5
    )
    assert rules.quota_hold(45011, asked_at=asked, now=datetime(2026, 11, 30, 4, 1, 2, tzinfo=UTC)) is None
    assert rules.quota_hold(-1, asked_at=asked, now=asked) is None
    assert rules.quota_hold(None, asked_at=asked, now=asked) is None


def test_what_each_answer_does_to_a_delivery():
    plan = Plan(CONTENT, policy=Policy(max_transient_attempts=3))

    def settle(outcome, errcode=None, attempts=1):
        return rules.settle(
            Result(1, "o", outcome, errcode, "", 99, attempts=attempts), plan, base_backoff=1.0, now=NOON
        )

    assert settle(Outcome.SENT).state == "sent" and settle(Outcome.SENT).use_credit
    assert settle(Outcome.RECIPIENT, 43101).zero_ledger and not settle(Outcome.RECIPIENT, 40003).zero_ledger
    assert settle(Outcome.CAMPAIGN, 47003).state == "pending"  # nobody got it: after the fix they will
    assert settle(Outcome.UNKNOWN).state == "unknown"  # never re-sent blindly
    assert settle(Outcome.RELEASED).released and settle(Outcome.RELEASED).state == "pending"
    assert settle(Outcome.TRANSIENT, -1, attempts=2).retry_in == 2.0
    assert settle(Outcome.TRANSIENT, -1, attempts=3).state == "failed"  # had enough tries


def test_halts_campaign_wide_at_once_quota_as_a_pause_recipients_by_rate_strict_on_anything():
    halts = rules.HaltRules(Policy())
    assert halts.judge(Result(1, "o", Outcome.CAMPAIGN, 40037, "invalid template")).reason == "40037: invalid template"
    assert rules.HaltRules(Policy()).judge(Result(1, "o", Outcome.QUOTA, 45009, "quota")).for_quota
    strict = rules.HaltRules(Policy(strict=True))
    assert strict.judge(Result(1, "o", Outcome.TRANSIENT, -1, "busy")) is not None
    by_rate = rules.HaltRules(Policy(max_recipient_error_rate=0.2, min_results_for_rate=10))
    verdicts = [
        by_rate.judge(Result(i, "o", Outcome.RECIPIENT if i % 3 == 0 else Outcome.SENT, 40003)) for i in range(12)
    ]
    assert verdicts[-1] is not None and all(v is None for v in verdicts[:9])
