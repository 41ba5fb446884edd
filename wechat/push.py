"""Building a push exactly as WeChat sends it to a server URL: query string and body (docs/wechat-protocol.md §4.2).

Used by wxsim to deliver simulated patients' events and by tests; the product only receives.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from wechat.crypto import MessageCrypto
from wechat.signature import callback_signature
from wechat.xmlcodec import parse_message, render_compatible_push, render_encrypted_push


@dataclass(frozen=True)
class Push:
    query: dict[str, str]
    body: bytes


def build_push(
    message_xml: bytes,
    *,
    token: str,
    appid: str,
    mode: str,
    encoding_aes_key: str = "",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> Push:
    """mode: "plaintext", "compatible" or "safe" (the account's 消息加解密方式)."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    message = parse_message(message_xml)
    query = {
        "signature": callback_signature(token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "openid": message.openid,
    }
    if mode == "plaintext":
        return Push(query, message_xml)
    crypto = MessageCrypto(token=token, encoding_aes_keys=[encoding_aes_key], appid=appid)
    envelope = crypto.encrypt(message_xml, timestamp=ts, nonce=nonce)
    query |= {"encrypt_type": "aes", "msg_signature": envelope.msg_signature}
    if mode == "safe":
        body = render_encrypted_push(account_original_id=message.account_original_id, encrypt=envelope.encrypt)
    elif mode == "compatible":
        body = render_compatible_push(message_xml, encrypt=envelope.encrypt)
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return Push(query, body)
