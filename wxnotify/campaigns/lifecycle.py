"""A campaign's lifecycle in one place: its states, the actions that move it, who may take each, and the
one `transition()` that checks, applies and audits every move.

    draft ─submit→ awaiting_approval ─approve→ approved ─schedule→ scheduled
      └──────────── send (no second approver needed) ──┴─ send ──────┴→ sending ─(system)→ completed
    sending ─pause / auto_paused→ paused ─resume→ sending;  sending ─auto_halted→ halted ─resume→ sending
    anything not finished ─cancel→ cancelled;  completed ─retry…→ sending (a retry reopens it)

Services call `transition()` for every state change and never set `state` themselves; views, tasks and
handlers call services. `user=None` is the system itself (the engine, the minute task, a management
command); a request always passes its user, whose role on the account is checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wxnotify.accounts.access import PERMISSIONS, role_on
from wxnotify.accounts.models import Role
from wxnotify.campaigns.models import Action, AuditEntry, Campaign

S = Campaign.State
SYSTEM: frozenset[str] = frozenset()  # no person may take it: the engine or the minute task does


class CampaignError(ValueError):
    """An action that cannot be taken now; the message says why, for the operator (in their language:
    raised while their request is being answered)."""


STATE_REFUSAL = gettext_lazy("这条通知当前的状态不允许这个操作。")


@dataclass(frozen=True)
class Rule:
    moves: Mapping[str, str]  # the state it may be taken from → the state it leads to (the same: no move)
    who: frozenset[str]  # the permissions (accounts.access.PERMISSIONS) that may take it
    refusal: Any = STATE_REFUSAL  # shown when the state does not allow it


def _stay(*states: str) -> dict[str, str]:
    return {s: s for s in states}


OPERATE = frozenset({"operate"})
UNFINISHED = [s for s in S.values if s not in (S.COMPLETED, S.CANCELLED)]
RETRYABLE = _stay(S.SENDING, S.PAUSED, S.HALTED) | {S.COMPLETED: S.SENDING}

TRANSITIONS: Mapping[str, Rule] = {
    Action.EDIT: Rule(
        _stay(S.DRAFT, S.PAUSED, S.HALTED), OPERATE, gettext_lazy("发送开始后只能在暂停或自动停止时修改内容。")
    ),
    Action.SUBMIT: Rule({S.DRAFT: S.AWAITING_APPROVAL}, OPERATE, gettext_lazy("只有草稿可以提交审核。")),
    # From paused or halted only when the content changed after the start (guarded below): the change
    # needs someone's approval before the send goes on; the state stays.
    Action.APPROVE: Rule(
        {S.DRAFT: S.APPROVED, S.AWAITING_APPROVAL: S.APPROVED} | _stay(S.PAUSED, S.HALTED),
        frozenset({"approve"}),
        gettext_lazy("只有草稿、待审核或暂停后修改过内容的通知可以审核。"),
    ),
    Action.PREVIEW: Rule(_stay(*S.values), OPERATE),
    # From a draft only where no second approver is needed (guarded below).
    Action.SEND: Rule(
        {S.DRAFT: S.SENDING, S.APPROVED: S.SENDING, S.SCHEDULED: S.SENDING},
        OPERATE,
        gettext_lazy("这条通知现在不能开始发送。"),
    ),
    Action.SCHEDULE: Rule(
        {S.DRAFT: S.SCHEDULED, S.APPROVED: S.SCHEDULED}, OPERATE, gettext_lazy("这条通知现在不能定时。")
    ),
    Action.RESCHEDULE: Rule(_stay(S.SCHEDULED), SYSTEM),
    Action.PAUSE: Rule({S.SENDING: S.PAUSED}, OPERATE, gettext_lazy("只有发送中的通知可以暂停。")),
    Action.RESUME: Rule(
        {S.PAUSED: S.SENDING, S.HALTED: S.SENDING}, OPERATE, gettext_lazy("只有已暂停或已自动停止的通知可以继续。")
    ),
    Action.CANCEL: Rule(
        dict.fromkeys(UNFINISHED, S.CANCELLED), OPERATE, gettext_lazy("已完成或已取消的通知不能取消。")
    ),
    Action.RETRY_UNKNOWN: Rule(RETRYABLE, OPERATE, gettext_lazy("已取消的通知不能重发。")),
    Action.RETRY_FAILED_TRANSIENT: Rule(RETRYABLE, OPERATE, gettext_lazy("已取消的通知不能重发。")),
    Action.AUTO_PAUSED: Rule({S.SENDING: S.PAUSED}, SYSTEM),
    Action.AUTO_HALTED: Rule({S.SENDING: S.HALTED}, SYSTEM),
    Action.AUTO_RESUMED: Rule({S.PAUSED: S.SENDING}, SYSTEM),
    Action.COMPLETED: Rule({S.SENDING: S.COMPLETED}, SYSTEM),
    Action.REVIVE: Rule(_stay(S.SENDING), SYSTEM),
}


def may(user: User | None, campaign: Campaign, action: str, *, role: Role | bool | None = False) -> bool:
    """Whether this person's role lets them take this action on this campaign (None: the system, which may).
    `role`: theirs on the campaign's account, when the caller already knows it."""
    if user is None:
        return True
    if role is False:
        role = role_on(user, campaign.account)
    return isinstance(role, Role) and any(role in PERMISSIONS[p] for p in TRANSITIONS[action].who)


def own_content(user: User | None, campaign: Campaign, action: str) -> bool:
    """The two-person rule: where a second approver is required, nobody approves content they wrote."""
    if action != Action.APPROVE or user is None or not campaign.account.require_second_approver:
        return False
    author = campaign.edited_by_id or campaign.created_by_id
    return bool(author and author == user.pk)


def allowed(campaign: Campaign, action: str) -> bool:
    """Whether the campaign's state allows the action now, whoever takes it."""
    if campaign.state not in TRANSITIONS[action].moves:
        return False
    if action in (Action.SEND, Action.SCHEDULE) and campaign.state == S.DRAFT:
        return not campaign.account.require_second_approver  # a draft is sent unapproved only where allowed
    if action == Action.APPROVE and campaign.state in (S.PAUSED, S.HALTED):
        return bool(campaign.approved_snapshot != campaign.snapshot())
    return True


def available(campaign: Campaign, user: User | None, *, role: Role | bool | None = False) -> set[str]:
    """The actions this person can take on this campaign now: the buttons its page shows. `role`: theirs
    on the campaign's account, when the caller already knows it."""
    if role is False:
        role = role_on(user, campaign.account) if user is not None else None
    return {
        action
        for action, rule in TRANSITIONS.items()
        if rule.who
        and allowed(campaign, action)
        and may(user, campaign, action, role=role)
        and not own_content(user, campaign, action)
    }


# Set by an edge that acts for a person, like the API (its token's name and prefix): the audit entries of
# what it does say so, as a console click's do not.
through: ContextVar[dict[str, str] | None] = ContextVar("through", default=None)


# Sent after every move, inside its transaction (campaign, action, detail): a listener that writes does so
# atomically with the move (the API's webhooks queue their events this way, and none is lost).
moved = Signal()


def audit(campaign: Campaign, user: User | None, action: str, **detail: Any) -> AuditEntry:
    if (via := through.get()) is not None:
        detail = {**detail, "via": via}
    return AuditEntry.objects.create(
        account_id=campaign.account_id,
        campaign=campaign,
        user=user if getattr(user, "pk", None) else None,
        action=Action(action),
        detail=detail,
    )


def take(campaign: Campaign | int, action: str, *, user: User | None) -> Campaign:
    """Lock the campaign and check that this person may take `action` and that its state allows it; inside
    the caller's transaction, for a service with work to do between the check and the move (`apply`).
    PermissionDenied for a person who may not; CampaignError (with the reason) when the state does not allow it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lifecycle.take() belongs in the transaction that applies the move")
    pk = campaign if isinstance(campaign, int) else campaign.pk
    locked = Campaign.objects.select_for_update().select_related("account", "template").get(pk=pk)
    if not may(user, locked, action):
        raise PermissionDenied
    if not allowed(locked, action):
        raise CampaignError(str(TRANSITIONS[action].refusal))
    if own_content(user, locked, action):
        raise CampaignError(_("需要另一位审核人审核（双人复核）。"))
    return locked


def apply(
    locked: Campaign, action: str, *, user: User | None, detail: Mapping[str, Any] | None = None, **changes: Any
) -> Campaign:
    """Move a campaign `take` returned to the state the table says, set `changes` (its other fields) and
    write the audit entry."""
    fields = {"state": TRANSITIONS[action].moves[locked.state], **changes}
    Campaign.objects.filter(pk=locked.pk).update(**fields)
    for name, value in fields.items():
        setattr(locked, name, value)
    audit(locked, user, action, **(detail or {}))
    moved.send(sender=Campaign, campaign=locked, action=action, detail=dict(detail or {}))
    return locked


def transition(
    campaign: Campaign | int, action: str, *, user: User | None, detail: Mapping[str, Any] | None = None, **changes: Any
) -> Campaign:
    """Take `action` in one transaction: check (`take`), move and audit (`apply`). Returns the campaign as
    it now is."""
    with transaction.atomic():
        return apply(take(campaign, action, user=user), action, user=user, detail=detail, **changes)
