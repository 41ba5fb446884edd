"""The delivery store on the database (the source of truth), for SQLite and PostgreSQL alike. It decides
nothing (`rules.py` does); it persists, set-based: each claim, start, skip and write-back is one
transaction of a few statements over the whole chunk, never a statement per delivery.

Claiming: PostgreSQL locks the rows it takes with FOR UPDATE SKIP LOCKED, so workers never wait for
each other; SQLite's BEGIN IMMEDIATE (settings) lets one writer in at a time, the same guarantee at
embedded scale. Every state change moves the campaign's `DeliveryTally` in the same transaction.
Needs SQLite ≥ 3.35 (RETURNING, UPDATE … FROM).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from wxnotify.campaigns import lifecycle, tally
from wxnotify.campaigns.models import Action, Campaign, Delivery
from wxnotify.campaigns.sending import rules
from wxnotify.campaigns.sending.ports import Candidate, Content, Job, Plan, Policy, RunState, Settlement
from wxnotify.campaigns.sending.rules import QUIET_REASON
from wxnotify.followers.models import Follower
from wxnotify.outages import through_outages
from wxnotify.subscriptions import services as ledger
from wxnotify.subscriptions.models import Subscription, Template

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
__all__ = ["QUIET_REASON", "DjangoStore", "expire_leases", "patiently"]

RUN_STATES: dict[str, RunState] = {
    Campaign.State.SENDING: RunState.SENDING,
    Campaign.State.PAUSED: RunState.PAUSED,
    Campaign.State.HALTED: RunState.HALTED,
    Campaign.State.CANCELLED: RunState.CANCELLED,
    Campaign.State.COMPLETED: RunState.COMPLETED,
}
STOP_ACTIONS = {RunState.PAUSED: Action.AUTO_PAUSED, RunState.HALTED: Action.AUTO_HALTED}
LOCK_RETRIES = 6
D = Delivery._meta.db_table
S = Subscription._meta.db_table
FOLLOWERS = Follower._meta.db_table


def patiently(fn: Callable[P, R]) -> Callable[P, R]:
    """SQLite lets one writer in at a time; with several busy workers on two cores a writer can wait past
    busy_timeout. Each store write is one transaction, so it is retried whole instead of crashing the
    worker (which would turn its sends in flight into "unknown"). On PostgreSQL the same holds for a deadlock
    with a delivery report settling one of the rows: PostgreSQL fails one of the two, and it runs again."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(LOCK_RETRIES):
            try:
                return fn(*args, **kwargs)
            except OperationalError as error:
                if not ("locked" in str(error) or "deadlock" in str(error)) or attempt == LOCK_RETRIES - 1:
                    raise
                log.warning("%s: %s, retrying (%d)", fn.__name__, str(error).strip().splitlines()[0], attempt + 1)
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    return wrapper


def _when(moment: datetime) -> Any:
    """A datetime as this database's raw SQL takes it (Django's own text format on SQLite)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _among(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`column` is one of `values`. PostgreSQL takes them as one array parameter, so the statement's text is
    the same whatever their number and psycopg parses it once (parsing a 500-placeholder statement every
    time was a tenth of a worker's time); SQLite takes a list of placeholders."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _expire(campaign_id: int | None, now: datetime) -> None:
    """Leases that ran out: claimed rows back to the queue (attempt given back), started ones "unknown"."""
    scope, params = ("campaign_id = %s AND ", [campaign_id]) if campaign_id is not None else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {D} SET state = 'pending', lease_until = NULL, attempts = attempts - 1 "  # noqa: S608
            f"WHERE {scope}state = 'claimed' AND lease_until < %s RETURNING campaign_id",
            [*params, _when(now)],
        )
        for campaign, n in Counter(row[0] for row in cursor.fetchall()).items():
            tally.add(campaign, {"claimed": -n, "pending": n})
        cursor.execute(
            f"UPDATE {D} SET state = 'unknown', errmsg = %s, lease_until = NULL "  # noqa: S608
            f"WHERE {scope}state = 'sending' AND lease_until < %s RETURNING campaign_id",
            ["worker lost before WeChat answered", *params, _when(now)],
        )
        for campaign, n in Counter(row[0] for row in cursor.fetchall()).items():
            tally.add(campaign, {"sending": -n, "unknown": n})


@transaction.atomic
def expire_leases() -> None:
    """The minute task: every campaign's lost leases; and what a dead worker held in a send cancelled since."""
    now = timezone.now()
    _expire(None, now)
    stranded = Delivery.objects.filter(state=Delivery.State.PENDING, campaign__state=Campaign.State.CANCELLED)
    for campaign_id, n in Counter(stranded.values_list("campaign_id", flat=True)).items():
        stranded.filter(campaign_id=campaign_id).update(state=Delivery.State.CANCELLED)
        tally.add(campaign_id, {"pending": -n, "cancelled": n})


def _relaxed() -> None:
    """In this transaction, do not wait for the commit to reach the disk (PostgreSQL). Only for writes whose
    loss in a database crash is safe: a lost claim gives its rows back to the queue, a lost write-back leaves
    them "sending" until their lease runs out, then "unknown" — never sent again blindly. The "started" mark
    is always durable (`_start`): it must be on disk before a request may leave. A later durable commit
    flushes every earlier one, so the order is kept."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


class DjangoStore:
    """The store of one engine: bound to its campaign and its worker name.

    Its methods run the ORM in threads of its own (`close()` ends them): on PostgreSQL one thread (and so one
    connection) each for claims, starts and write-backs, so that marking the next requests started never
    waits behind a write-back; on SQLite, which lets one writer in at a time, one thread for all."""

    def __init__(self, campaign_id: int, worker: str) -> None:
        self.campaign_id = campaign_id
        self.worker = worker[:64]
        self._plan: Plan | None = None
        self._template_pk = 0
        self._account_id = 0
        self._woken_at: datetime | None = None
        lanes = ("claims", "starts", "settles") if connection.vendor == "postgresql" else ("claims",)
        self._lanes = {lane: ThreadPoolExecutor(1, thread_name_prefix=f"store-{lane}") for lane in lanes}

    async def _run(self, lane: str, fn: Callable[..., R], *args: Any) -> R:
        pool = self._lanes.get(lane) or self._lanes["claims"]
        # A database that went away (PostgreSQL restarted) is waited for, not the end of the engine. Running an
        # operation again is safe when its first commit landed unseen: a claim's rows come back when their
        # lease runs out, a start only moves rows still claimed by this worker (the engine never sends the
        # ones it does not get back), a write-back only rows still "sending".
        call = functools.partial(through_outages, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    async def close(self) -> None:
        """Close each thread's database connection, then the threads."""
        for pool in self._lanes.values():
            await asyncio.get_running_loop().run_in_executor(pool, connections.close_all)
            pool.shutdown()

    # --- reads ----------------------------------------------------------------------------

    async def plan(self) -> Plan:
        return await self._run("claims", self._read_plan)

    def _read_plan(self) -> Plan:
        campaign = Campaign.objects.select_related("template", "account").get(pk=self.campaign_id)
        snapshot = campaign.approved_snapshot or campaign.snapshot()
        legacy = campaign.template.kind == Template.Kind.LEGACY_ONE_TIME
        account = campaign.account
        self._template_pk, self._account_id = campaign.template_id, campaign.account_id
        self._woken_at = campaign.woken_at  # which run of the send this engine belongs to (see _stop)
        self._plan = Plan(
            content=Content(
                template_id=snapshot["template_id"],
                data=snapshot["data"],
                page=snapshot.get("page") or "",
                miniprogram=snapshot.get("miniprogram"),
                one_time_title=snapshot.get("title", "") if legacy else None,
            ),
            policy=Policy(strict=campaign.strict, max_recipient_error_rate=campaign.max_recipient_error_rate),
            canary_count=None if campaign.canary_released else campaign.canary_count,
            quiet=(account.quiet_start, account.quiet_end)
            if account.quiet_start is not None and account.quiet_end is not None
            else None,
            zone=settings.TIME_ZONE,
            legacy=legacy,
            long_term=campaign.template.kind == Template.Kind.LONG_TERM,
            skip_unfollowed=campaign.skips_unfollowed,
        )
        return self._plan

    async def run_state(self) -> RunState:
        state = await self._run("claims", self._read_state)
        return RUN_STATES.get(state or "", RunState.OTHER)

    def _read_state(self) -> str | None:
        return Campaign.objects.filter(pk=self.campaign_id).values_list("state", flat=True).first()

    async def taken(self) -> tuple[int, int]:
        counts = await self._run("claims", tally.counts, self.campaign_id)
        in_flight = counts.get("claimed", 0) + counts.get("sending", 0)
        return sum(counts.values()) - counts.get("pending", 0), in_flight

    # --- claim, skip, start ---------------------------------------------------------------

    async def claim(self, *, limit: int, lease_seconds: float) -> list[Candidate]:
        return await self._run("claims", self._claim, limit, lease_seconds)

    @patiently
    @transaction.atomic
    def _claim(self, limit: int, lease_seconds: float) -> list[Candidate]:
        if self._plan is None:
            self._read_plan()
        _relaxed()
        now = timezone.now()
        _expire(self.campaign_id, now)
        postgres = connection.vendor == "postgresql"
        plan = self._plan
        assert plan is not None
        if plan.canary_count:  # one engine at a time past this point while the canary is on
            if postgres:
                Campaign.objects.select_for_update().filter(pk=self.campaign_id).values_list("pk").get()
            counts = tally.counts(self.campaign_id)
            limit = rules.canary_room(plan, taken=sum(counts.values()) - counts.get("pending", 0), limit=limit)
            if limit <= 0:
                return []
        lock = "FOR UPDATE SKIP LOCKED" if postgres else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {D} SET state = 'claimed', worker = %s, lease_until = %s, attempts = attempts + 1 "  # noqa: S608
                f"WHERE id IN (SELECT id FROM {D} WHERE campaign_id = %s AND state = 'pending' "
                f"AND (next_attempt_at IS NULL OR next_attempt_at <= %s) ORDER BY id LIMIT %s {lock}) "
                "RETURNING id, openid, attempts",
                [self.worker, _when(now + timedelta(seconds=lease_seconds)), self.campaign_id, _when(now), limit],
            )
            claimed = sorted(cursor.fetchall())
            if not claimed:
                return []
            among, openids = _among("openid", [o for _, o, _ in claimed])
            cursor.execute(
                f"SELECT openid, credits, long_term_on, legacy_scenes FROM {S} "  # noqa: S608
                f"WHERE template_id = %s AND {among}",
                [self._template_pk, *openids],
            )
            ledger_rows = {
                o: (credits > 0 or bool(long_term), scenes) for o, credits, long_term, scenes in cursor.fetchall()
            }
            following: dict[str, bool] = {}
            if plan.skip_unfollowed:
                cursor.execute(
                    f"SELECT openid, is_following FROM {FOLLOWERS} "  # noqa: S608
                    f"WHERE account_id = %s AND {among}",
                    [self._account_id, *openids],
                )
                following = {o: bool(f) for o, f in cursor.fetchall()}
        # Last: the campaign's count rows are what every engine's transactions share, held until commit.
        tally.add(self.campaign_id, {"pending": -len(claimed), "claimed": len(claimed)})
        candidates = []
        for delivery_id, openid, attempts in claimed:
            has_credit, scenes = ledger_rows.get(openid, (False, None))
            candidates.append(
                Candidate(delivery_id, openid, attempts, has_credit, tuple(_scenes(scenes)), following.get(openid))
            )
        return candidates

    async def skip(self, skips: Sequence[tuple[int, str]]) -> None:
        await self._run("claims", self._skip, list(skips))

    @patiently
    @transaction.atomic
    def _skip(self, skips: list[tuple[int, str]]) -> None:
        _relaxed()
        by_reason: dict[str, list[int]] = defaultdict(list)
        for delivery_id, reason in skips:
            by_reason[reason].append(delivery_id)
        now = _when(timezone.now())
        with connection.cursor() as cursor:
            for reason, ids in by_reason.items():
                among, params = _among("id", ids)
                cursor.execute(
                    f"UPDATE {D} SET state = 'skipped', errmsg = %s, finished_at = %s, lease_until = NULL "  # noqa: S608
                    f"WHERE worker = %s AND state = 'claimed' AND {among}",
                    [reason, now, self.worker, *params],
                )
                tally.add(self.campaign_id, {"claimed": -cursor.rowcount, "skipped": cursor.rowcount})

    async def start(self, jobs: Sequence[Job]) -> set[int]:
        return await self._run("starts", self._start, list(jobs))

    @patiently
    @transaction.atomic
    def _start(self, jobs: list[Job]) -> set[int]:
        """Only rows still claimed by this worker start: if its lease ran out (a long stall) and another
        worker took a row, sending it here too would deliver it twice."""
        among, ids = _among("id", [j.delivery_id for j in jobs])
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {D} SET state = 'sending', attempt_started_at = %s "  # noqa: S608
                f"WHERE worker = %s AND state = 'claimed' AND {among} RETURNING id",
                [_when(timezone.now()), self.worker, *ids],
            )
            mine = {row[0] for row in cursor.fetchall()}
            scenes = [(j.scene, j.delivery_id) for j in jobs if j.scene is not None and j.delivery_id in mine]
            if scenes:  # the older one-time message: which authorised scene this send uses
                cursor.executemany(f"UPDATE {D} SET scene = %s WHERE id = %s", scenes)  # noqa: S608
        tally.add(self.campaign_id, {"claimed": -len(mine), "sending": len(mine)})
        return mine

    async def renew(self, delivery_ids: Sequence[int], *, lease_seconds: float) -> None:
        await self._run("claims", self._renew, list(delivery_ids), lease_seconds)

    @patiently
    def _renew(self, delivery_ids: list[int], lease_seconds: float) -> None:
        Delivery.objects.filter(
            id__in=delivery_ids, worker=self.worker, state__in=[Delivery.State.CLAIMED, Delivery.State.SENDING]
        ).update(lease_until=timezone.now() + timedelta(seconds=lease_seconds))

    # --- write-back -----------------------------------------------------------------------

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        await self._run("settles", self._settle, list(settlements))

    @patiently
    @transaction.atomic
    def _settle(self, settlements: list[Settlement]) -> None:
        """Only rows this worker still holds are written: one already settled by WeChat's delivery report
        (handlers.on_sent) is counted once, and one whose lease ran out before it was started belongs to
        whichever worker took it since. The UPDATE's own condition re-checks each row under its lock, so
        WeChat's report settling the same row at the same moment uses the credit once, not twice."""
        _relaxed()
        now = timezone.now()
        by_id = {s.delivery_id: s for s in settlements}
        moved: list[tuple[int, str, str]] = []  # (delivery id, from state, to state)
        for from_state in ("sending", "claimed", "unknown"):  # almost all are "sending": one statement
            done = {m[0] for m in moved}
            rest = [s for i, s in by_id.items() if i not in done]
            if not rest:
                break
            moved += [(i, from_state, to) for i, to in self._write(rest, from_state, now)]
        deltas: Counter[str] = Counter()
        for _, from_state, to_state in moved:
            deltas[from_state] -= 1
            deltas[to_state] += 1
        written = {i for i, _, _ in moved}
        sent = [by_id[i] for i, _, to in moved if to == "sent" and by_id[i].use_credit]
        if sent:
            if self._plan is not None and self._plan.legacy:
                ledger.use_scenes(template_id=self._template_pk, used=[(s.openid, s.scene) for s in sent])
            else:
                ledger.use_credits(template_id=self._template_pk, openids=[s.openid for s in sent])
        zeroed = [by_id[i].openid for i in written if by_id[i].zero_ledger]
        if zeroed:  # WeChat says they cannot receive it: our ledger agrees from now on
            ledger.zero(account_id=self._account_id, template_id=self._template_pk, openids=zeroed, at=now)
        # Cancelled while these were out: what went back to the queue is not sent.
        requeued = [i for i, _, to in moved if to == "pending"]
        if requeued and Campaign.objects.filter(pk=self.campaign_id, state=Campaign.State.CANCELLED).exists():
            n = Delivery.objects.filter(id__in=requeued, state=Delivery.State.PENDING).update(
                state=Delivery.State.CANCELLED, lease_until=None
            )
            deltas["pending"] -= n
            deltas["cancelled"] += n
        tally.add(self.campaign_id, deltas)  # last: see _claim

    def _write(self, settlements: list[Settlement], from_state: str, now: datetime) -> list[tuple[int, str]]:
        """One UPDATE … FROM (the answers as a table) for the rows of `settlements` this worker holds in
        `from_state`: on PostgreSQL the answers are one array per column (`unnest`, a statement of constant
        text, see `_among`), on SQLite a VALUES list."""
        columns: list[list[Any]] = [[], [], [], [], [], [], []]
        for s in settlements:
            retry_at = _when(now + timedelta(seconds=s.retry_in)) if s.retry_in is not None else None
            row = (s.delivery_id, s.state, s.errcode, s.errmsg, s.msgid, retry_at, 1 if s.released else 0)
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        names = "v(id, state, errcode, errmsg, msgid, retry_at, released)"
        if connection.vendor == "postgresql":
            table = (
                "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::text[], %s::bigint[], "
                "%s::timestamptz[], %s::integer[])"
            )
            params: list[Any] = columns
        else:
            table = "VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(settlements))
            params = [value for row in zip(*columns, strict=True) for value in row]
        final = _when(now)
        names = "v(id, state, errcode, errmsg, msgid, retry_at, released)"
        assignments = (
            f"state = v.state, errcode = v.errcode, errmsg = v.errmsg, msgid = COALESCE(v.msgid, {D}.msgid), "
            f"finished_at = CASE WHEN v.state IN ('sent', 'failed') THEN %s ELSE {D}.finished_at END, "
            f"lease_until = NULL, next_attempt_at = v.retry_at, attempts = {D}.attempts - v.released"
        )
        sql = (
            f"WITH {names} AS ({table}) "  # noqa: S608 - placeholders only
            f"UPDATE {D} SET {assignments} FROM v "
            f"WHERE {D}.id = v.id AND {D}.worker = %s AND {D}.state = %s "
            # Never downgrade a delivery WeChat has already reported as sent (handlers.on_sent).
            f"RETURNING {D}.id, {D}.state"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, final, self.worker, from_state])
            return [(row[0], row[1]) for row in cursor.fetchall()]

    # --- campaign state -------------------------------------------------------------------

    async def stop(self, state: RunState, *, reason: str, errcode: int | None) -> None:
        await self._run("claims", self._stop, STOP_ACTIONS[state], reason, errcode)

    @patiently
    @transaction.atomic
    def _stop(self, action: Action, reason: str, errcode: int | None) -> None:
        # The lifecycle moves it (sending → paused / halted) and audits it, without a user; if an operator
        # paused or cancelled it meanwhile, theirs stands. So does their resume: when one engine has halted
        # the send, another may still be taking in answers to requests it sent before, decide the same
        # halt, and arrive after the operator fixed the cause and resumed — that stale decision must not
        # halt the resumed send. Workers woken since this engine began (resume, retry, revival) mean a newer
        # run: its own engines decide for it.
        woken = Campaign.objects.select_for_update().filter(pk=self.campaign_id).values_list("woken_at", flat=True)
        if woken.first() != self._woken_at:
            log.warning("campaign %s: not stopping it (%s): resumed since this worker began", self.campaign_id, reason)
            return
        with contextlib.suppress(lifecycle.CampaignError):
            lifecycle.transition(
                self.campaign_id,
                action,
                user=None,
                detail={"reason": reason, "errcode": errcode},
                stop_reason=reason[:1000],
                stop_errcode=errcode,
            )

    async def finish_if_done(self) -> bool:
        return await self._run("claims", self._finish_if_done)

    @patiently
    @transaction.atomic
    def _finish_if_done(self) -> bool:
        busy = Delivery.objects.filter(
            campaign_id=self.campaign_id,
            state__in=[Delivery.State.PENDING, Delivery.State.CLAIMED, Delivery.State.SENDING],
        )
        if busy.exists():
            return False
        try:  # two engines finishing together both get here: one completes it, the other finds it completed
            lifecycle.transition(self.campaign_id, Action.COMPLETED, user=None, finished_at=timezone.now())
        except lifecycle.CampaignError:
            return self._read_state() == Campaign.State.COMPLETED
        return True


def _scenes(value: Any) -> list[int]:
    """The ledger's authorised scenes (a JSON list; raw SQL gives it as text on SQLite)."""
    if value is None:
        return []
    if isinstance(value, str):
        import json

        value = json.loads(value)
    return [int(v) for v in value]
