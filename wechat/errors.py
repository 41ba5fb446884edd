"""WeChat error codes and what a sender should do about each (docs/wechat-protocol.md §10).

The class decides the engine's reaction: RECIPIENT skips one person, CAMPAIGN halts the whole
send, CONTENT is a payload problem (campaign-wide unless the field is personalised), TRANSIENT
retries with back-off, AUTH refreshes the token once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorClass(enum.StrEnum):
    OK = "ok"
    RECIPIENT = "recipient"
    CAMPAIGN = "campaign"
    CONTENT = "content"
    TRANSIENT = "transient"
    AUTH = "auth"


@dataclass(frozen=True)
class ErrorInfo:
    code: int
    error_class: ErrorClass
    meaning: str  # English, for logs; the console's zh/en wording lives with the product


ERRORS: dict[int, ErrorInfo] = {
    info.code: info
    for info in [
        ErrorInfo(0, ErrorClass.OK, "ok"),
        ErrorInfo(-1, ErrorClass.TRANSIENT, "system busy, retry later"),
        ErrorInfo(40001, ErrorClass.AUTH, "access_token invalid or not latest (or wrong AppSecret at token fetch)"),
        ErrorInfo(40014, ErrorClass.AUTH, "invalid access_token"),
        ErrorInfo(42001, ErrorClass.AUTH, "access_token expired"),
        ErrorInfo(41001, ErrorClass.AUTH, "access_token missing"),
        ErrorInfo(40164, ErrorClass.CAMPAIGN, "caller IP not in the account's whitelist"),
        ErrorInfo(40013, ErrorClass.CAMPAIGN, "invalid appid"),
        ErrorInfo(40125, ErrorClass.CAMPAIGN, "invalid appsecret"),
        ErrorInfo(40003, ErrorClass.RECIPIENT, "openid empty, invalid or of another account"),
        ErrorInfo(40037, ErrorClass.CAMPAIGN, "template_id empty or invalid"),
        ErrorInfo(41030, ErrorClass.CAMPAIGN, "mini-program page path invalid"),
        ErrorInfo(43101, ErrorClass.RECIPIENT, "user refused, never subscribed, or used up the subscription"),
        ErrorInfo(43107, ErrorClass.CAMPAIGN, "subscription messages banned for the account or template"),
        ErrorInfo(43108, ErrorClass.TRANSIENT, "concurrent calls to the same openid"),
        ErrorInfo(45009, ErrorClass.CAMPAIGN, "daily API quota reached"),
        ErrorInfo(45011, ErrorClass.TRANSIENT, "per-minute API quota reached, retry next minute"),
        ErrorInfo(45047, ErrorClass.RECIPIENT, "customer-service reply quota for this interaction used"),
        ErrorInfo(45015, ErrorClass.RECIPIENT, "outside the interaction window or unfollowed"),
        ErrorInfo(45008, ErrorClass.CONTENT, "too many articles in a news message"),
        ErrorInfo(45168, ErrorClass.CONTENT, "sensitive word in the content"),
        ErrorInfo(47003, ErrorClass.CONTENT, "argument invalid (errmsg names the field)"),
        ErrorInfo(47001, ErrorClass.CAMPAIGN, "request body could not be parsed"),
        ErrorInfo(40033, ErrorClass.CAMPAIGN, "request contains \\uXXXX escapes"),
        ErrorInfo(48001, ErrorClass.CAMPAIGN, "API unauthorized for this account"),
        ErrorInfo(48004, ErrorClass.CAMPAIGN, "API banned for irregularities"),
        ErrorInfo(45103, ErrorClass.CAMPAIGN, "API unsupported for this account type"),
        ErrorInfo(43004, ErrorClass.RECIPIENT, "recipient does not follow the account"),
        ErrorInfo(43019, ErrorClass.RECIPIENT, "recipient is in the blacklist"),
        ErrorInfo(48002, ErrorClass.RECIPIENT, "recipient turned off messages"),
        ErrorInfo(50002, ErrorClass.RECIPIENT, "recipient limited"),
        ErrorInfo(40029, ErrorClass.RECIPIENT, "invalid OAuth code"),
        ErrorInfo(40163, ErrorClass.RECIPIENT, "OAuth code already used"),
    ]
}

# The codes a sender acts on by name (everything else by its class).
NOT_SUBSCRIBED = 43101  # this person cannot receive it: the subscription ledger is zeroed
DAILY_QUOTA = 45009  # nothing more today (WeChat's day: Beijing time): pause, go on tomorrow
MINUTE_QUOTA = 45011  # too fast: retry in the next minute

AUTH_RETRY_CODES = frozenset({40001, 40014, 42001})  # refresh the token once, then retry (as WeChat advises)


def classify(code: int) -> ErrorClass:
    """The handling class of `code`; unknown non-zero codes are CAMPAIGN, the safe choice for a bulk send."""
    info = ERRORS.get(code)
    return info.error_class if info else ErrorClass.CAMPAIGN


class WeChatError(Exception):
    """Anything that kept a WeChat call from giving an answer."""


class WeChatAPIError(WeChatError):
    """WeChat answered with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str, *, path: str = "") -> None:
        super().__init__(f"{path} errcode={errcode} errmsg={errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path

    @property
    def error_class(self) -> ErrorClass:
        return classify(self.errcode)


class WeChatTransportError(WeChatError):
    """No usable answer: connection refused, timeout, HTTP 5xx, or a body that is not JSON.

    `maybe_delivered` is False only when the request certainly never left (the connection could not
    be made); otherwise WeChat may have acted on it, and a send that ends here has an unknown outcome.
    """

    error_class = ErrorClass.TRANSIENT

    def __init__(self, message: str, *, maybe_delivered: bool = True) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered
