"""Signatures WeChat puts on callbacks and asks of JS-SDK pages (docs/wechat-protocol.md §4.1, §4.2, §14)."""

from __future__ import annotations

import hashlib
import hmac


def callback_signature(*parts: str) -> str:
    """sha1 over the lexicographically sorted parts, lowercase hex.

    With (token, timestamp, nonce) this is the `signature` query parameter; adding the
    `Encrypt` value gives the `msg_signature` of compatible and safe mode.
    """
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def is_valid_signature(expected_from_peer: str, *parts: str) -> bool:
    """Constant-time comparison, so a forger learns nothing from response timing."""
    computed = callback_signature(*parts)
    return hmac.compare_digest(computed.encode("ascii"), expected_from_peer.encode("utf-8", "replace"))


def verify_url(token: str, *, signature: str, timestamp: str, nonce: str, echostr: str) -> str | None:
    """WeChat's server-URL check (GET): the echostr to send back, or None when the signature is wrong."""
    if is_valid_signature(signature, token, timestamp, nonce):
        return echostr
    return None


def jssdk_signature(*, jsapi_ticket: str, noncestr: str, timestamp: str | int, url: str) -> str:
    """The `signature` for `wx.config`: sha1 of the sorted key=value pairs joined by '&'.

    `url` is the page's full URL; the fragment is dropped here because WeChat signs without it.
    """
    url = url.split("#", 1)[0]
    pairs = sorted([f"jsapi_ticket={jsapi_ticket}", f"noncestr={noncestr}", f"timestamp={timestamp}", f"url={url}"])
    return hashlib.sha1("&".join(pairs).encode("utf-8")).hexdigest()
