"""WeChat's delivery reports (subscribe_msg_sent_event): confirm sends, and settle unknown outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wechat.messages import SubscribeSentEvent
from wechat.replies import Reply
from wxnotify.accounts.models import OfficialAccount
from wxnotify.callbacks.dispatch import handles
from wxnotify.callbacks.models import InboundMessage
from wxnotify.campaigns import tally
from wxnotify.campaigns.models import Delivery
from wxnotify.subscriptions.models import Template
from wxnotify.subscriptions.services import use_credits


@handles(SubscribeSentEvent)
def on_sent(account: OfficialAccount, event: SubscribeSentEvent, inbound: InboundMessage) -> Reply | None:
    at = datetime.fromtimestamp(max(event.create_time, 0), tz=UTC)
    for result in event.results:
        if Delivery.objects.filter(msgid=result.msg_id, campaign__account=account).update(confirmed_at=at):
            continue
        # A send whose answer we never got, or not yet (worker died, timeout, still waiting): WeChat's
        # report settles it. CreateTime has whole seconds, hence the margin.
        unknown = (
            Delivery.objects.filter(
                campaign__account=account,
                campaign__template__template_id=result.template_id,
                openid=event.openid,
                state__in=[Delivery.State.UNKNOWN, Delivery.State.SENDING],
                msgid__isnull=True,
                attempt_started_at__lte=at + timedelta(seconds=2),
            )
            .select_related("campaign__template")
            .order_by("attempt_started_at")
            .first()
        )
        if unknown is None:
            continue
        if result.delivered:
            settled = _settle(
                unknown,
                Delivery.State.SENT,
                msgid=result.msg_id,
                errcode=0,
                errmsg="confirmed by WeChat",
                confirmed_at=at,
            )
            if settled and unknown.campaign.template.kind != Template.Kind.LONG_TERM:
                use_credits(template_id=unknown.campaign.template_id, openids=[event.openid])
        else:
            _settle(
                unknown,
                Delivery.State.FAILED,
                msgid=result.msg_id,
                errcode=result.error_code,
                errmsg=result.error_status,
            )
    return None


def _settle(delivery: Delivery, state: str, **fields: object) -> bool:
    """Settle one row still unknown (or sending) to `state`, moving the campaign's counts; False if someone
    else settled it first (the worker's write-back, at the same moment)."""
    for from_state in (Delivery.State.UNKNOWN, Delivery.State.SENDING):
        if Delivery.objects.filter(pk=delivery.pk, state=from_state).update(state=state, **fields):
            tally.add(delivery.campaign_id, {from_state: -1, state: 1})
            return True
    return False
