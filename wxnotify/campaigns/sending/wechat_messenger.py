"""The messenger on WeChat's bizsend: one answer per recipient, sorted into the engine's outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from wechat.client import WeChatClient
from wechat.errors import ErrorClass, WeChatAPIError, WeChatTransportError
from wxnotify.campaigns.sending.ports import Content, Outcome, SendAnswer

CLASS_OUTCOMES = {
    ErrorClass.RECIPIENT: Outcome.RECIPIENT,
    ErrorClass.TRANSIENT: Outcome.TRANSIENT,
    # The content is the same for everyone, so a content error is campaign-wide; so is a token that
    # still fails after the client's one refresh.
    ErrorClass.CONTENT: Outcome.CAMPAIGN,
    ErrorClass.CAMPAIGN: Outcome.CAMPAIGN,
    ErrorClass.AUTH: Outcome.CAMPAIGN,
}


class WeChatMessenger:
    """`link_for(delivery_id, page)` gives the recipient's own link to a web page (a tracked redirect);
    without it everyone gets the page itself."""

    def __init__(self, client: WeChatClient, *, link_for: Callable[[int, str], str] | None = None) -> None:
        self.client = client
        self.link_for = link_for

    async def send(
        self, openid: str, content: Content, *, scene: int | None = None, delivery_id: int | None = None
    ) -> SendAnswer:
        if self.link_for is not None and content.page and delivery_id is not None:
            content = replace(content, page=self.link_for(delivery_id, content.page))
        try:
            if content.one_time_title is not None:  # the older one-time message: no msgid, no sent event
                await self.client.send_one_time_subscribe(
                    openid=openid,
                    template_id=content.template_id,
                    scene=scene if scene is not None else 0,
                    title=content.one_time_title,
                    content=content.data.get("content", ""),
                    url=content.page or None,
                    miniprogram=content.miniprogram,
                )
                return SendAnswer(Outcome.SENT, 0, "ok")
            msgid = await self.client.send_subscribe_message(
                openid=openid,
                template_id=content.template_id,
                data=content.data,
                page=content.page or None,
                miniprogram=content.miniprogram,
            )
        except WeChatAPIError as error:
            if error.errcode == 45009:
                return SendAnswer(Outcome.QUOTA, error.errcode, error.errmsg)
            return SendAnswer(CLASS_OUTCOMES.get(error.error_class, Outcome.CAMPAIGN), error.errcode, error.errmsg)
        except WeChatTransportError as error:
            outcome = Outcome.UNKNOWN if error.maybe_delivered else Outcome.TRANSIENT
            return SendAnswer(outcome, None, str(error))
        return SendAnswer(Outcome.SENT, 0, "ok", msgid)
