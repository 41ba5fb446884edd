"""WeChat error codes in an operator's words: what happened and what to do, in zh/en."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from wxnotify.campaigns.sending import rules

REASONS: dict[int, tuple[Promise, Promise]] = {
    43101: (_("对方没有订阅、订阅次数已用完，或已在微信设置中关闭此通知。"), _("无需处理；对方再次订阅后可以收到。")),
    40003: (_("OpenID 无效，或不属于这个公众号。"), _("检查接收人来源；如来自其他公众号，请移除。")),
    40037: (
        _("模板 ID 无效：模板可能已在公众平台删除。"),
        _("在「通知管理」中从微信同步模板，改用有效模板后继续发送。"),
    ),
    47003: (_("字段内容不符合微信的格式要求（微信答复中写明了是哪个字段）。"), _("修改该字段后点「继续发送」。")),
    45168: (_("内容含有微信的敏感词。"), _("修改内容后点「继续发送」。")),
    45009: (_("今天的接口调用次数已用完。"), _("明天会自动继续；紧急时可在公众平台清零调用次数。")),
    45011: (_("每分钟调用次数超限，已自动放慢重试。"), _("无需处理。")),
    43108: (_("对同一个人的并发调用，已自动重试。"), _("无需处理。")),
    40001: (_("access_token 失效，刷新后仍失败：AppSecret 可能已更改。"), _("在「公众号设置」中核对 AppSecret。")),
    40164: (_("服务器 IP 不在公众平台的 IP 白名单中。"), _("在公众平台把本服务器的出口 IP 加入白名单。")),
    48001: (_("公众号没有这个接口的权限（需已认证的服务号并开通订阅通知）。"), _("在公众平台确认权限后再发送。")),
    43107: (_("订阅通知能力或该模板已被微信封禁。"), _("查看公众平台的通知并申诉。")),
    -1: (_("微信系统繁忙。"), _("会自动重试。")),
}
UNKNOWN = (
    _("请求可能已到达微信，但没有收到答复（超时或发送进程中断）。"),
    _("等待微信的送达回执自动核对；确认没有送达后再手动重发。"),
)


# Why the engine skipped someone without asking WeChat (its reason is stored in the row's errmsg).
SKIPS: dict[str, tuple[Promise, Promise]] = {
    rules.NO_CREDIT: (
        _("对方没有可用的订阅次数（已用完或从未订阅），未调用微信。"),
        _("无需处理；对方再次订阅后可以收到。"),
    ),
    rules.UNFOLLOWED: (
        _("对方已取消关注公众号，按发送设置跳过。"),
        _("如需发送给已取消关注的人，在发送设置中勾选「也发给已取消关注的人」。"),
    ),
}


def explain(errcode: int | None, state: str, reason: str = "") -> tuple[str, str]:
    """What happened and what to do; `reason` is a skipped row's (the engine's words)."""
    if state == "unknown":
        return str(UNKNOWN[0]), str(UNKNOWN[1])
    if state == "skipped":
        if reason in SKIPS:
            return str(SKIPS[reason][0]), str(SKIPS[reason][1])
        return reason, ""
    if errcode is None or errcode == 0:
        return "", ""
    said, action = REASONS.get(
        errcode, (_("微信返回错误 %(code)s。") % {"code": errcode}, _("查看错误信息，必要时联系技术支持。"))
    )
    return str(said), str(action)
