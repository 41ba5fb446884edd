"""The rules of a send, in one place and free of any database: who is skipped and why, how far a canary
goes, when quiet hours hold a send, what each of WeChat's answers does to a delivery (and to the
patient's subscription), and when failures halt the whole send.

The engine applies them; the stores (the database one and the in-memory one the unit tests use) only
persist what the rules decided, so every rule is exercised by the engine's unit tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from wechat.errors import DAILY_QUOTA, MINUTE_QUOTA, NOT_SUBSCRIBED
from wxnotify.campaigns.sending.ports import Candidate, Job, Outcome, Plan, Policy, Result, Settlement

# Why a claimed delivery is not sent (kept on the row, shown in the log).
NO_CREDIT = "no subscription credit"
UNFOLLOWED = "unfollowed"
QUIET_REASON = "quiet hours: waiting until they end"
MAX_BACKOFF = 60.0


def triage(candidates: Sequence[Candidate], plan: Plan) -> tuple[list[Job], list[tuple[int, str]]]:
    """Split claimed deliveries into jobs to send and skips with their reason. Credits are checked again
    here (not only when the audience was fixed): a patient may have switched the template off since.
    WeChat would only answer 43101 to those; they are never sent."""
    jobs: list[Job] = []
    skips: list[tuple[int, str]] = []
    for c in candidates:
        if not c.has_credit or (plan.legacy and not c.scenes):
            skips.append((c.delivery_id, NO_CREDIT))
        elif plan.skip_unfollowed and c.following is False:
            skips.append((c.delivery_id, UNFOLLOWED))
        else:
            # the older one-time message: one authorised scene per send, the oldest first
            jobs.append(Job(c.delivery_id, c.openid, c.attempts, scene=min(c.scenes) if plan.legacy else None))
    return jobs, skips


def canary_room(plan: Plan, *, taken: int, limit: int) -> int:
    """How many more may be claimed before the canary's pause (`taken`: deliveries no longer pending)."""
    if not plan.canary_count:
        return limit
    return max(0, min(limit, plan.canary_count - taken))


def canary_reason(plan: Plan) -> str:
    return f"canary: sent to the first {plan.canary_count}, waiting for continue"


def in_quiet_hours(quiet: tuple[time, time] | None, at: datetime, zone: str) -> bool:
    """Quiet hours are local times of the account's zone; a window may cross midnight (22:00–07:00)."""
    if quiet is None:
        return False
    start, end = quiet
    local = at.astimezone(ZoneInfo(zone)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _after_the_minute_of(moment: datetime) -> datetime:
    """WeChat counts a request in the calendar minute it arrived: the first moment a request is counted in
    the next one, with a second's margin for the two clocks."""
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)


def retry_delay(attempts: int, errcode: int | None, *, base: float, now: datetime) -> float:
    """Seconds until a transient failure is tried again: doubling from `base` (at most a minute); WeChat's
    minute quota (45011) says "retry next minute", so then the next minute."""
    if errcode == MINUTE_QUOTA:
        return (_after_the_minute_of(now) - now).total_seconds()
    return min(MAX_BACKOFF, base * 2.0 ** max(0, attempts - 1))


def quota_hold(errcode: int | None, *, asked_at: datetime, now: datetime) -> float | None:
    """Seconds every sender of the account waits after WeChat's per-minute quota (45011), or None. Nothing
    sent before the next minute can succeed: holding back all senders (not only the one answered) keeps the
    refusals to what was already on its way. The minute is the request's, not the answer's (a slow 45011 may
    come back after the minute turned)."""
    if errcode != MINUTE_QUOTA:
        return None
    wait = (_after_the_minute_of(asked_at) - now).total_seconds()
    return wait if wait > 0 else None


def settle(result: Result, plan: Plan, *, base_backoff: float, now: datetime) -> Settlement:
    """What WeChat's answer (or its absence) does to a delivery and to the patient's subscription."""
    outcome = result.outcome
    base = Settlement(result.delivery_id, result.openid, "pending", result.errcode, result.errmsg[:255])
    if outcome == Outcome.SENT:
        # A delivered one-time notification uses one credit (the older message: the scene it used).
        return replace(base, state="sent", msgid=result.msgid, use_credit=not plan.long_term, scene=result.scene)
    if outcome == Outcome.RECIPIENT:
        # 43101: WeChat says they cannot receive it; our ledger agrees from now on.
        return replace(base, state="failed", zero_ledger=result.errcode == NOT_SUBSCRIBED)
    if outcome == Outcome.CAMPAIGN:
        return replace(base, state="pending")  # nobody got it; after the operator's fix they will
    if outcome == Outcome.UNKNOWN:
        return replace(base, state="unknown")  # may have reached them: never re-sent blindly
    if outcome == Outcome.RELEASED:
        return replace(base, state="pending", released=True)  # never attempted
    # TRANSIENT or QUOTA: later, unless this person has had enough tries
    if result.attempts >= plan.policy.max_transient_attempts:
        return replace(base, state="failed")
    delay = retry_delay(result.attempts, result.errcode, base=base_backoff, now=now)
    return replace(base, state="pending", retry_in=delay)


@dataclass(frozen=True)
class Halt:
    reason: str
    errcode: int | None

    @property
    def for_quota(self) -> bool:
        """WeChat's daily quota: nothing more today — a pause until tomorrow, not a halt."""
        return self.errcode == DAILY_QUOTA


FAILURES = frozenset({Outcome.RECIPIENT, Outcome.CAMPAIGN, Outcome.TRANSIENT, Outcome.QUOTA, Outcome.UNKNOWN})


class HaltRules:
    """The case study's "stop as soon as it goes wrong": a campaign-wide error (or the daily quota) stops the
    send at once; strict mode stops on any failure; recipient errors stop it when their share of the last
    `policy.window` answers is above the policy's rate."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.recent: deque[bool] = deque(maxlen=policy.window)  # True: this person could not receive it

    def judge(self, result: Result) -> Halt | None:
        if result.outcome in (Outcome.CAMPAIGN, Outcome.QUOTA):
            reason = f"{result.errcode}: {result.errmsg}" if result.errcode else result.errmsg
            return Halt(reason, result.errcode)
        if self.policy.strict and result.outcome in FAILURES:
            return Halt(f"strict mode: {result.errcode or result.outcome}: {result.errmsg}", result.errcode)
        if result.outcome in (Outcome.SENT, Outcome.RECIPIENT):
            self.recent.append(result.outcome == Outcome.RECIPIENT)
            failed = sum(self.recent)
            if (
                len(self.recent) >= self.policy.min_results_for_rate
                and failed / len(self.recent) > self.policy.max_recipient_error_rate
            ):
                return Halt(f"recipient errors {failed}/{len(self.recent)} over the last results", result.errcode)
        return None
