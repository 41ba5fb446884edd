"""The delivery store on the database (the source of truth), for SQLite and PostgreSQL alike.

Claiming: PostgreSQL locks the rows it takes with FOR UPDATE SKIP LOCKED, so workers never wait
for each other; SQLite's BEGIN IMMEDIATE (settings) lets one writer in at a time, which is the same
guarantee at embedded scale. Results go back in a handful of set-based statements per batch.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from wxnotify.campaigns.models import AuditEntry, Campaign, Delivery
from wxnotify.campaigns.sending.ports import Content, Job, Outcome, Policy, Result, RunState
from wxnotify.followers.models import Follower
from wxnotify.subscriptions.models import Subscription, SubscriptionEvent, Template

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
QUIET_REASON = "quiet hours: waiting until they end"
RUN_STATES: dict[str, RunState] = {
    Campaign.State.SENDING: RunState.SENDING,
    Campaign.State.PAUSED: RunState.PAUSED,
    Campaign.State.HALTED: RunState.HALTED,
    Campaign.State.CANCELLED: RunState.CANCELLED,
    Campaign.State.COMPLETED: RunState.COMPLETED,
}


# A worker's own rows: claimed, started, or started and then given up on ("unknown") when its lease ran out.
HELD = (Delivery.State.CLAIMED, Delivery.State.SENDING, Delivery.State.UNKNOWN)
# Outcomes that leave a row where it is (everything else may send it back to the queue).
FINAL_OUTCOMES = (Outcome.SENT, Outcome.RECIPIENT, Outcome.UNKNOWN)
LOCK_RETRIES = 6


def patiently(fn: Callable[P, R]) -> Callable[P, R]:
    """SQLite lets one writer in at a time; with several busy workers on two cores a writer can wait past
    busy_timeout. Each store write is one transaction, so it is retried whole instead of crashing the
    worker (which would turn its sends in flight into "unknown"). PostgreSQL never raises this."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(LOCK_RETRIES):
            try:
                return fn(*args, **kwargs)
            except OperationalError as error:
                if "locked" not in str(error) or attempt == LOCK_RETRIES - 1:
                    raise
                log.warning("%s: database is locked, retrying (%d)", fn.__name__, attempt + 1)
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    return wrapper


@dataclass(frozen=True)
class Target:
    template_pk: int
    kind: int
    account_id: int
    skip_unfollowed: bool

    @property
    def legacy(self) -> bool:
        return self.kind == Template.Kind.LEGACY_ONE_TIME


def backoff(attempts: int, errcode: int | None) -> timedelta:
    if errcode == 45011:  # minute quota: WeChat says "retry next minute"
        now = timezone.now()
        return timedelta(seconds=61 - now.second)
    return timedelta(seconds=min(60.0, settings.WXNOTIFY_SEND_BACKOFF_SECONDS * 2 ** max(0, attempts - 1)))


def expire_leases(campaign_id: int | None = None) -> int:
    """A worker vanished: what it had claimed but not started goes back to the queue; what it had
    started (the request may have left) becomes "unknown", never re-sent blindly."""
    expired = Delivery.objects.filter(lease_until__lt=timezone.now())
    if campaign_id is not None:
        expired = expired.filter(campaign_id=campaign_id)
    requeued = expired.filter(state=Delivery.State.CLAIMED).update(
        state=Delivery.State.PENDING, lease_until=None, attempts=F("attempts") - 1
    )
    unknown = expired.filter(state=Delivery.State.SENDING).update(
        state=Delivery.State.UNKNOWN, errmsg="worker lost before WeChat answered", lease_until=None
    )
    if campaign_id is None:  # the minute task: what a dead worker held in a send cancelled since is cancelled
        Delivery.objects.filter(state=Delivery.State.PENDING, campaign__state=Campaign.State.CANCELLED).update(
            state=Delivery.State.CANCELLED
        )
    return requeued + unknown


class DjangoStore:
    def __init__(self) -> None:
        self._targets: dict[int, Target] = {}  # campaign → what claiming needs to know, read once
        self._worker = ""  # the name this store claims under (one store per engine)

    # --- reads ----------------------------------------------------------------------------

    async def run_state(self, campaign_id: int) -> RunState:
        state = await Campaign.objects.filter(pk=campaign_id).values_list("state", flat=True).afirst()
        return RUN_STATES.get(state or "", RunState.OTHER)

    async def content(self, campaign_id: int) -> Content:
        campaign = await Campaign.objects.select_related("template").aget(pk=campaign_id)
        snapshot = campaign.approved_snapshot or campaign.snapshot()
        legacy = campaign.template.kind == Template.Kind.LEGACY_ONE_TIME
        return Content(
            template_id=snapshot["template_id"],
            data=snapshot["data"],
            page=snapshot.get("page") or "",
            miniprogram=snapshot.get("miniprogram"),
            one_time_title=snapshot.get("title", "") if legacy else None,
        )

    async def policy(self, campaign_id: int) -> Policy:
        campaign = await Campaign.objects.aget(pk=campaign_id)
        return Policy(strict=campaign.strict, max_recipient_error_rate=campaign.max_recipient_error_rate)

    # --- claim ----------------------------------------------------------------------------

    async def claim(self, campaign_id: int, *, worker: str, limit: int, lease_seconds: float) -> list[Job]:
        return await sync_to_async(self._claim)(campaign_id, worker, limit, lease_seconds)

    @patiently
    @transaction.atomic
    def _claim(self, campaign_id: int, worker: str, limit: int, lease_seconds: float) -> list[Job]:
        now = timezone.now()
        self._worker = worker[:64]
        expire_leases(campaign_id)
        limit = self._canary_room(campaign_id, limit)
        if limit <= 0 or self._quiet(campaign_id, now):
            return []
        due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        rows = list(
            Delivery.objects.filter(due, campaign_id=campaign_id, state=Delivery.State.PENDING)
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("id", "openid")[:limit]
        )
        if not rows:
            return []
        target = self._target(campaign_id)
        openids = [o for _, o in rows]
        # Credits are checked again now: a patient may have switched the template off since the start.
        scenes = dict(
            Subscription.objects.filter(
                Subscription.current_q(), template_id=target.template_pk, openid__in=openids
            ).values_list("openid", "legacy_scenes")
        )
        gone: set[str] = set()
        if target.skip_unfollowed:
            gone = set(
                Follower.objects.filter(
                    account_id=target.account_id, is_following=False, openid__in=openids
                ).values_list("openid", flat=True)
            )
        skips = {
            "no subscription credit": [i for i, o in rows if o not in scenes],
            "unfollowed": [i for i, o in rows if o in scenes and o in gone],
        }
        for reason, ids in skips.items():  # never sent to WeChat, which would only answer 43101
            if ids:
                Delivery.objects.filter(id__in=ids).update(state=Delivery.State.SKIPPED, errmsg=reason, finished_at=now)
        jobs = [
            Job(i, o, scene=(scenes[o] or [0])[0] if target.legacy else None)
            for i, o in rows
            if o in scenes and o not in gone
        ]
        by_scene: dict[int | None, list[int]] = defaultdict(list)
        for job in jobs:
            by_scene[job.scene].append(job.delivery_id)
        for scene, ids in by_scene.items():
            Delivery.objects.filter(id__in=ids).update(
                state=Delivery.State.CLAIMED,
                worker=self._worker,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=F("attempts") + 1,
                scene=scene,
            )
        return jobs

    async def renew_lease(self, campaign_id: int, delivery_ids: Sequence[int], *, lease_seconds: float) -> None:
        await sync_to_async(self._renew_lease)(list(delivery_ids), lease_seconds)

    @patiently
    def _renew_lease(self, delivery_ids: list[int], lease_seconds: float) -> None:
        Delivery.objects.filter(
            id__in=delivery_ids, worker=self._worker, state__in=[Delivery.State.CLAIMED, Delivery.State.SENDING]
        ).update(lease_until=timezone.now() + timedelta(seconds=lease_seconds))

    async def mark_started(self, campaign_id: int, delivery_ids: Sequence[int]) -> set[int]:
        return await sync_to_async(self._mark_started)(list(delivery_ids))

    @patiently
    @transaction.atomic
    def _mark_started(self, delivery_ids: list[int]) -> set[int]:
        """Only rows still claimed by this worker start: if its lease ran out (a long stall) and another
        worker took a row, sending it here too would deliver it twice."""
        mine = list(
            Delivery.objects.filter(id__in=delivery_ids, worker=self._worker, state=Delivery.State.CLAIMED)
            .select_for_update()
            .values_list("id", flat=True)
        )
        Delivery.objects.filter(id__in=mine).update(state=Delivery.State.SENDING, attempt_started_at=timezone.now())
        return set(mine)

    def _quiet(self, campaign_id: int, now: Any) -> bool:
        """In the account's quiet hours the send waits (paused; the minute task resumes it afterwards)."""
        campaign = Campaign.objects.select_related("account").get(pk=campaign_id)
        if not campaign.account.in_quiet_hours(now):
            return False
        self._stop(campaign_id, Campaign.State.PAUSED, QUIET_REASON, None)
        return True

    def _canary_room(self, campaign_id: int, limit: int) -> int:
        """How many more may be claimed before the canary pause; pauses the campaign when none."""
        canary, released = Campaign.objects.filter(pk=campaign_id).values_list("canary_count", "canary_released").get()
        if not canary or released:
            return limit
        taken = Delivery.objects.filter(campaign_id=campaign_id).exclude(state=Delivery.State.PENDING).count()
        room = canary - taken
        if room <= 0:
            busy = Delivery.objects.filter(
                campaign_id=campaign_id, state__in=[Delivery.State.CLAIMED, Delivery.State.SENDING]
            )
            if not busy.exists():  # the canary's answers are all in: wait for the operator
                self._stop(
                    campaign_id,
                    Campaign.State.PAUSED,
                    f"canary: sent to the first {canary}, waiting for continue",
                    None,
                )
        return min(limit, max(room, 0))

    def _target(self, campaign_id: int) -> Target:
        if campaign_id not in self._targets:
            campaign = Campaign.objects.select_related("template").get(pk=campaign_id)
            self._targets[campaign_id] = Target(
                template_pk=campaign.template_id,
                kind=campaign.template.kind,
                account_id=campaign.account_id,
                skip_unfollowed=campaign.skips_unfollowed,
            )
        return self._targets[campaign_id]

    # --- results --------------------------------------------------------------------------

    async def complete(self, campaign_id: int, results: Sequence[Result], *, policy: Policy) -> None:
        await sync_to_async(self._complete)(campaign_id, results, policy)

    @patiently
    @transaction.atomic
    def _complete(self, campaign_id: int, results: Sequence[Result], policy: Policy) -> None:
        now = timezone.now()
        target = self._target(campaign_id)
        template_pk, kind = target.template_pk, target.kind
        # Only rows this worker still holds are written: one already settled by WeChat's delivery report
        # (handlers.on_sent) is counted once, and one whose lease ran out before it was started belongs
        # to whichever worker took it since (its "sent" or "released" must not overwrite theirs).
        # FOR UPDATE: WeChat's report may be settling the same row right now (handlers.on_sent); locking
        # first means one of the two sees the other's "sent" and the credit is used once, not twice.
        held = set(
            Delivery.objects.filter(id__in=[r.delivery_id for r in results], worker=self._worker, state__in=HELD)
            .select_for_update()
            .values_list("id", flat=True)
        )
        by_outcome: dict[Outcome, list[Result]] = defaultdict(list)
        for r in results:
            if r.delivery_id in held:
                by_outcome[r.outcome].append(r)

        fresh = by_outcome[Outcome.SENT]
        if fresh:
            rows = [
                Delivery(
                    id=r.delivery_id,
                    state=Delivery.State.SENT,
                    msgid=r.msgid,
                    errcode=0,
                    errmsg="",
                    finished_at=now,
                    lease_until=None,
                )
                for r in fresh
            ]
            Delivery.objects.bulk_update(
                rows, ["state", "msgid", "errcode", "errmsg", "finished_at", "lease_until"], batch_size=500
            )
            if target.legacy and fresh:
                self._use_scenes(template_pk, fresh)
            elif kind != Template.Kind.LONG_TERM and fresh:  # a delivered one-time notification uses one credit
                Subscription.objects.filter(
                    template_id=template_pk, openid__in=[r.openid for r in fresh], credits__gt=0
                ).update(credits=F("credits") - 1)

        self._by_code(by_outcome[Outcome.RECIPIENT], state=Delivery.State.FAILED, finished_at=now, lease_until=None)
        refused = [r.openid for r in by_outcome[Outcome.RECIPIENT] if r.errcode == 43101]
        if refused:  # WeChat says they cannot receive: our ledger agrees from now on
            Subscription.objects.filter(template_id=template_pk, openid__in=refused).update(
                credits=0, long_term_on=False, legacy_scenes=[]
            )
            account_id = Campaign.objects.filter(pk=campaign_id).values_list("account_id", flat=True).get()
            SubscriptionEvent.objects.bulk_create(
                [
                    SubscriptionEvent(
                        account_id=account_id,
                        template_id=template_pk,
                        openid=o,
                        kind=SubscriptionEvent.Kind.ZEROED,
                        source=SubscriptionEvent.Source.SENDING,
                        occurred_at=now,
                    )
                    for o in refused
                ]
            )
        # Campaign-wide: this person did not get it; after the operator's fix they will.
        self._by_code(by_outcome[Outcome.CAMPAIGN], state=Delivery.State.PENDING, lease_until=None)
        self._by_code(by_outcome[Outcome.UNKNOWN], state=Delivery.State.UNKNOWN, lease_until=None)
        if by_outcome[Outcome.RELEASED]:
            Delivery.objects.filter(id__in=[r.delivery_id for r in by_outcome[Outcome.RELEASED]]).update(
                state=Delivery.State.PENDING, lease_until=None, attempts=F("attempts") - 1
            )
        retry = by_outcome[Outcome.TRANSIENT] + by_outcome[Outcome.QUOTA]
        if retry:
            attempts = dict(
                Delivery.objects.filter(id__in=[r.delivery_id for r in retry]).values_list("id", "attempts")
            )
            exhausted = [r for r in retry if attempts.get(r.delivery_id, 0) >= policy.max_transient_attempts]
            self._by_code(exhausted, state=Delivery.State.FAILED, finished_at=now, lease_until=None)
            later = [r for r in retry if attempts.get(r.delivery_id, 0) < policy.max_transient_attempts]
            groups: dict[tuple[int | None, str, int], list[int]] = defaultdict(list)
            for r in later:
                groups[(r.errcode, r.errmsg[:255], attempts[r.delivery_id])].append(r.delivery_id)
            for (errcode, errmsg, n), ids in groups.items():
                Delivery.objects.filter(id__in=ids).update(
                    state=Delivery.State.PENDING,
                    errcode=errcode,
                    errmsg=errmsg,
                    lease_until=None,
                    next_attempt_at=now + backoff(n, errcode),
                )
        # Cancelled while this batch was out: what went back to the queue is not sent (cancel only reaches
        # rows that were pending at that moment). Asked only when something went back, not per write-back.
        requeued = [r.delivery_id for r in results if r.outcome not in FINAL_OUTCOMES]
        if requeued and Campaign.objects.filter(pk=campaign_id, state=Campaign.State.CANCELLED).exists():
            Delivery.objects.filter(id__in=requeued, state=Delivery.State.PENDING).update(
                state=Delivery.State.CANCELLED, lease_until=None
            )

    @staticmethod
    def _use_scenes(template_pk: int, sent: Sequence[Result]) -> None:
        """Older one-time message: each authorised scene allows one send; the one used is gone."""
        used = dict(Delivery.objects.filter(id__in=[r.delivery_id for r in sent]).values_list("openid", "scene"))
        rows = list(Subscription.objects.filter(template_id=template_pk, openid__in=list(used)))
        for row in rows:
            scenes = list(row.legacy_scenes)
            if used[row.openid] in scenes:
                scenes.remove(used[row.openid])
            row.legacy_scenes, row.credits = scenes, len(scenes)
        Subscription.objects.bulk_update(rows, ["legacy_scenes", "credits"], batch_size=500)

    @staticmethod
    def _by_code(results: Sequence[Result], **fields: Any) -> None:
        groups: dict[tuple[int | None, str], list[int]] = defaultdict(list)
        for r in results:
            groups[(r.errcode, r.errmsg[:255])].append(r.delivery_id)
        for (errcode, errmsg), ids in groups.items():
            # Never downgrade a delivery WeChat has already reported as sent.
            Delivery.objects.filter(id__in=ids).exclude(state=Delivery.State.SENT).update(
                errcode=errcode, errmsg=errmsg, **fields
            )

    # --- campaign state -------------------------------------------------------------------

    async def halt(self, campaign_id: int, *, reason: str, errcode: int | None) -> None:
        await sync_to_async(self._stop)(campaign_id, Campaign.State.HALTED, reason, errcode)

    async def pause_for_quota(self, campaign_id: int, *, reason: str) -> None:
        await sync_to_async(self._stop)(campaign_id, Campaign.State.PAUSED, reason, 45009)

    @patiently
    @transaction.atomic
    def _stop(self, campaign_id: int, state: str, reason: str, errcode: int | None) -> None:
        changed = Campaign.objects.filter(pk=campaign_id, state=Campaign.State.SENDING).update(
            state=state, stop_reason=reason[:1000], stop_errcode=errcode
        )
        if changed:
            account_id = Campaign.objects.filter(pk=campaign_id).values_list("account_id", flat=True).get()
            AuditEntry.objects.create(
                account_id=account_id,
                campaign_id=campaign_id,
                action=f"auto_{state}",
                detail={"reason": reason, "errcode": errcode},
            )

    async def finish_if_done(self, campaign_id: int) -> bool:
        return await sync_to_async(self._finish_if_done)(campaign_id)

    @patiently
    @transaction.atomic
    def _finish_if_done(self, campaign_id: int) -> bool:
        busy = Delivery.objects.filter(
            campaign_id=campaign_id, state__in=[Delivery.State.PENDING, Delivery.State.CLAIMED, Delivery.State.SENDING]
        )
        if busy.exists():
            return False
        Campaign.objects.filter(pk=campaign_id, state=Campaign.State.SENDING).update(
            state=Campaign.State.COMPLETED, finished_at=timezone.now()
        )
        return Campaign.objects.filter(pk=campaign_id, state=Campaign.State.COMPLETED).exists()
