"""The lifecycle in one place: the table of states and actions, who may take each, one transition() that
checks, moves and audits; and the holes it closed (a draft scheduled past the two-person rule, a preview
refused on such an account, a canary released by the system's own resume)."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from wxnotify.accounts.models import Membership
from wxnotify.campaigns import lifecycle, selectors, services
from wxnotify.campaigns.models import Action, AuditEntry, Campaign, Previewer
from wxnotify.campaigns.sending.rules import QUIET_REASON

pytestmark = pytest.mark.django_db(transaction=True)
S = Campaign.State


def person(account, role):
    user, _ = get_user_model().objects.get_or_create(username=f"{role}-{account.pk}")
    Membership.objects.get_or_create(user=user, account=account, defaults={"role": role})
    return user


def test_the_table_names_every_action_and_leaves_no_state_stranded():
    assert set(lifecycle.TRANSITIONS) == set(Action.values)  # every audited action is a move of the table
    for action, rule in lifecycle.TRANSITIONS.items():
        assert set(rule.moves) <= set(S.values) and set(rule.moves.values()) <= set(S.values), action
    for state in S.values:
        leaving = {a for a, r in lifecycle.TRANSITIONS.items() if r.moves.get(state, state) != state}
        assert leaving or state == S.CANCELLED, f"{state} can never be left"
    # Cancelled is final; completed is left only by sending some again.
    assert {
        a for a, r in lifecycle.TRANSITIONS.items() if r.moves.get(S.CANCELLED, S.CANCELLED) != S.CANCELLED
    } == set()
    assert {a for a, r in lifecycle.TRANSITIONS.items() if r.moves.get(S.COMPLETED, S.COMPLETED) != S.COMPLETED} == {
        Action.RETRY_UNKNOWN,
        Action.RETRY_FAILED_TRANSIENT,
    }
    # What the system does by itself nobody can do from the console.
    for action in (Action.AUTO_PAUSED, Action.AUTO_HALTED, Action.AUTO_RESUMED, Action.COMPLETED, Action.REVIVE):
        assert lifecycle.TRANSITIONS[action].who == lifecycle.SYSTEM


def test_submit_then_approve_then_send_each_by_its_role_and_audited(sending):
    account, sim, template, subscribers, campaign = sending
    account.require_second_approver = True
    account.save()
    subscribers(3)
    operator, approver, viewer = (person(account, r) for r in ("operator", "approver", "viewer"))
    c = campaign(created_by=operator, edited_by=operator)
    assert lifecycle.available(c, operator) >= {Action.SUBMIT, Action.EDIT, Action.CANCEL}
    assert Action.SEND not in lifecycle.available(c, operator)  # a draft goes to an approver first here
    assert lifecycle.available(c, viewer) == set()
    with pytest.raises(PermissionDenied):
        services.submit(campaign=c, user=approver)  # submitting is the operator's step
    services.submit(campaign=c, user=operator)
    c.refresh_from_db()
    assert c.state == S.AWAITING_APPROVAL
    with pytest.raises(PermissionDenied):
        services.approve(campaign=c, user=operator)
    with pytest.raises(services.CampaignError):
        services.start(campaign=c, user=operator)  # not approved yet
    services.approve(campaign=c, user=approver)
    assert services.start(campaign=c, user=operator, workers=0) == 3
    c.refresh_from_db()
    assert c.state == S.SENDING and c.approved_by == approver
    entries = list(AuditEntry.objects.filter(campaign=c).order_by("id").values_list("action", "user__username"))
    assert entries == [("submit", operator.username), ("approve", approver.username), ("send", operator.username)]
    with pytest.raises(services.CampaignError, match="只有草稿可以提交审核"):
        services.submit(campaign=c, user=operator)


def test_a_draft_cannot_be_scheduled_past_the_two_person_rule(sending):
    """Before, scheduling a draft skipped approval: the minute task then started it unapproved."""
    account, sim, template, subscribers, campaign = sending
    account.require_second_approver = True
    account.save()
    operator, approver = person(account, "operator"), person(account, "approver")
    c = campaign(created_by=operator, scheduled_at=timezone.now() + timedelta(hours=2))
    with pytest.raises(services.CampaignError, match="不能定时"):
        services.schedule(campaign=c, user=operator)
    c.refresh_from_db()
    assert c.state == S.DRAFT
    services.approve(campaign=c, user=approver)
    services.schedule(campaign=c, user=operator)
    c.refresh_from_db()
    assert c.state == S.SCHEDULED


def test_a_preview_goes_out_on_an_account_with_the_two_person_rule(sending):
    """Before, the trial send was a draft, and a draft may not be sent there: every preview was refused."""
    account, sim, template, subscribers, campaign = sending
    account.require_second_approver = True
    account.save()
    staff = subscribers(1)[0]
    Previewer.objects.create(account=account, name="王护士", openid=staff)
    operator = person(account, "operator")
    c = campaign(created_by=operator)
    trial = services.preview(campaign=c, user=operator)  # the queue runs inline in tests
    trial.refresh_from_db()
    assert trial.state == S.COMPLETED and selectors.progress(trial)["sent"] == 1
    c.refresh_from_db()
    assert c.state == S.DRAFT and c.approved_snapshot is None  # the real send still needs its approver
    received = sim.get(f"/_sim/accounts/{account.appid}/received?template_id={template.template_id}")
    assert received["total"] == 1


def test_the_system_resuming_after_quiet_hours_keeps_the_canary_waiting(sending, settings):
    """Only an operator's "continue" releases a canary; before, the minute task's resume did it too."""
    account, sim, template, subscribers, campaign = sending
    settings.WXNOTIFY_SEND_WORKERS = 0  # the engine's part is tested elsewhere: here, the state
    c = campaign(state=S.PAUSED, canary_count=5, stop_reason=QUIET_REASON, approved_snapshot=None)
    Campaign.objects.filter(pk=c.pk).update(approved_snapshot=c.snapshot())
    services.run_minute()  # the account has no quiet hours now
    c.refresh_from_db()
    assert c.state == S.SENDING and not c.canary_released and c.stop_reason == ""
    entry = AuditEntry.objects.get(campaign=c)
    assert entry.action == Action.AUTO_RESUMED and entry.user is None and entry.label.startswith("自动继续")
    lifecycle.transition(c, Action.AUTO_PAUSED, user=None, stop_reason="canary: 5 sent")
    services.resume(campaign=c, user=person(account, "operator"))
    c.refresh_from_db()
    assert c.state == S.SENDING and c.canary_released


def test_a_person_cannot_take_what_only_the_system_does(sending):
    account, sim, template, subscribers, campaign = sending
    c = campaign(state=S.SENDING)
    with pytest.raises(PermissionDenied):
        lifecycle.transition(c, Action.AUTO_HALTED, user=person(account, "administrator"))
    c.refresh_from_db()
    assert c.state == S.SENDING and not AuditEntry.objects.filter(campaign=c).exists()


LAYERED = ["views.py", "public_views.py", "tasks.py", "handlers.py"]
WRITES = {"save", "create", "update", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}


@pytest.mark.parametrize("module", LAYERED)
def test_views_tasks_and_handlers_call_services_and_never_write_models(module):
    source = Path(__file__).parents[2] / "wxnotify" / "campaigns" / module
    writes = []
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            if isinstance(node.func.value, ast.Name) and node.func.value.id == "services":
                continue
            unsaved = any(
                k.arg == "commit" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords
            )  # a form's instance handed to a service
            if not unsaved:
                writes.append(f"{module}:{node.lineno} .{node.func.attr}()")
    assert writes == []
