"""Why a second message was not sent, and what to do, in an operator's words (zh/en)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from wxnotify.engagement.models import SecondMessage

REASONS: dict[int, tuple[Promise, Promise]] = {
    45015: (
        _(
            "不在客服消息窗口内：微信只允许在关注、扫码、点菜单后 1 分钟内，"
            "或对方发消息后 48 小时内发送；对方也可能已取消关注。"
        ),
        _("无需处理；不会自动重发。"),
    ),
    45047: (
        _("这次互动允许的客服消息条数已用完（关注后 1 分钟内最多 3 条）。"),
        _("减少关注后自动发送的消息条数。"),
    ),
    45008: (_("图文超过 1 篇：微信只允许 1 篇。"), _("检查关注回复的内容。")),
    45168: (_("内容含有微信的敏感词。"), _("修改第二条图文的标题或摘要。")),
    40003: (_("OpenID 无效，或不属于这个公众号。"), _("无需处理。")),
    48001: (_("公众号没有客服消息接口的权限（需要已认证的服务号）。"), _("在公众平台确认接口权限。")),
    -1: (_("微信系统繁忙，已重试仍未成功。"), _("无需处理。")),
}


def explain(message: SecondMessage) -> tuple[str, str]:
    if message.state == SecondMessage.State.SENT:
        return "", ""
    if message.state == SecondMessage.State.PENDING:
        return str(_("等待发送进程发出。")), ""
    if message.state == SecondMessage.State.SKIPPED:
        return str(_("这次关注到达本系统时已超过 1 分钟，微信不再允许发客服消息。")), str(_("无需处理。"))
    if message.state == SecondMessage.State.UNKNOWN:
        return str(_("请求可能已到达微信，但没有收到答复。")), str(_("不会重发，以免对方收到两次。"))
    if message.errcode in REASONS:
        reason, action = REASONS[message.errcode]
        return str(reason), str(action)
    if message.errcode is not None:
        return str(_("微信返回错误 %(code)s：%(msg)s") % {"code": message.errcode, "msg": message.errmsg}), ""
    return message.errmsg, ""
