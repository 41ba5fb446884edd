"""Click tracking: each recipient's web link is our signed redirect `/r/<code>`, which counts the tap and
forwards at once to the page the send was approved with.

The code is the delivery's id (base 36) and an HMAC of it under the project's secret (Django's Signer, its own
salt): nobody can make a code for another delivery, and the destination is never read from the URL, so the
redirect cannot be pointed anywhere else (no open redirect). Mini-program targets open inside WeChat without a
URL we could put in between: they cannot be tracked.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

_signer = signing.Signer(salt="wxnotify.campaigns.click", sep=".")
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    out = ""
    while True:
        n, digit = divmod(n, 36)
        out = DIGITS[digit] + out
        if n == 0:
            return out


def link_code(delivery_id: int) -> str:
    return _signer.sign(_base36(delivery_id))


def tracked_link(delivery_id: int, page: str) -> str:
    """The link a recipient gets instead of `page` (which the redirect takes from the campaign, not the URL)."""
    return settings.WXNOTIFY_PUBLIC_URL + reverse("click:follow", args=[link_code(delivery_id)])


def delivery_of(code: str) -> int | None:
    """The delivery a code was made for; None for a code we did not sign (forged, cut, another install's)."""
    try:
        value = _signer.unsign(code[:64])
    except signing.BadSignature:
        return None
    if not value or len(value) > 13 or any(c not in DIGITS for c in value):
        return None
    return int(value, 36)
