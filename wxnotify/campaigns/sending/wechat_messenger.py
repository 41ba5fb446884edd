"""The messenger on WeChat's bizsend: one answer per recipient, sorted into the engine's outcomes."""

from __future__ import annotations

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
    def __init__(self, client: WeChatClient) -> None:
        self.client = client

    async def send(self, openid: str, content: Content, *, scene: int | None = None) -> SendAnswer:
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
