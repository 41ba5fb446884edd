"""`/wechat/<appid>/callback`: WeChat's server URL.

Order of checks: known account → size → `signature` → its timestamp inside the window → in compatible
and safe mode `encrypt_type=aes` with a valid `msg_signature` (the content comes from the decrypted
part only: `signature` does not cover the body) → AES → well-formed XML → addressed to this account →
its nonce not already used with another body. Anything that fails gets 403 (proof) or 400 (body)
and nothing is stored; only an accepted message reaches the database.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from wechat.crypto import CryptoError, InvalidSignature, MessageCrypto
from wechat.replies import SUCCESS, encrypt_reply, render_reply
from wechat.signature import is_valid_signature, verify_url
from wechat.xmlcodec import MAX_BODY_BYTES, MalformedMessage, parse_envelope, parse_message
from wxnotify.accounts.models import MessageMode, OfficialAccount
from wxnotify.callbacks.models import Refusal
from wxnotify.callbacks.refusals import refuse
from wxnotify.callbacks.services import Replayed, record_inbound
from wxnotify.outages import through_outages

MAX_NONCE_LENGTH = 64  # WeChat's are ten digits; the replay cache keeps at most this much
# A client that sends its whole body before reading the answer (most do) gets a connection reset instead
# of our 400 if we close with its body unread. Up to this much is read and thrown away first; gunicorn
# then closes the connection (config/gunicorn.conf.py), having said so. Beyond it, nothing is read.
DISCARD_UP_TO = 1024 * 1024


def _discard(request: HttpRequest, declared: int) -> None:
    if declared > DISCARD_UP_TO:
        return
    left = declared
    while left > 0:
        chunk = request.read(min(left, 64 * 1024))
        if not chunk:
            break
        left -= len(chunk)


def _timestamp_refusal(timestamp: str) -> str | None:
    """Why the signature's timestamp is not acceptable now, or None."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return "timestamp is not a number of seconds"
    skew = int(timestamp) - time.time()
    window = settings.WXNOTIFY_CALLBACK_WINDOW_SECONDS
    if abs(skew) > window:
        return f"timestamp is {abs(skew):.0f} s in the {'future' if skew > 0 else 'past'} (window {window} s)"
    return None


# WeChat waits 5 s for an answer, then retries (three attempts in all): a push that arrives while PostgreSQL
# restarts is held up to this long for it to come back rather than refused with a 500 at once.
HOLD_THROUGH_OUTAGE_SECONDS = 3.5


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest, appid: str) -> HttpResponse:
    # Running it again is safe: its one transaction either committed (a retry is then a duplicate, stored
    # once) or did not; the body is read once and kept by the request.
    return through_outages(_callback, request, appid, seconds=HOLD_THROUGH_OUTAGE_SECONDS)


def _callback(request: HttpRequest, appid: str) -> HttpResponse:
    account = get_object_or_404(OfficialAccount, appid=appid, is_active=True)
    query = request.GET
    signature, timestamp, nonce = (query.get(k, "") for k in ("signature", "timestamp", "nonce"))

    if request.method == "GET":
        # URL verification stores nothing and only echoes: a replayed one is harmless, so no window here.
        echostr = verify_url(
            account.callback_token,
            signature=signature,
            timestamp=timestamp,
            nonce=nonce,
            echostr=query.get("echostr", ""),
        )
        if echostr is None:
            return refuse(account, Refusal.BAD_SIGNATURE, "URL verification")
        return HttpResponse(echostr, content_type="text/plain")

    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        return refuse(account, Refusal.MALFORMED, "bad Content-Length")
    if declared > MAX_BODY_BYTES:
        _discard(request, declared)
        return refuse(account, Refusal.TOO_LARGE, f"over {MAX_BODY_BYTES} bytes")
    if (
        not nonce
        or len(nonce) > MAX_NONCE_LENGTH
        or not is_valid_signature(signature, account.callback_token, timestamp, nonce)
    ):
        return refuse(account, Refusal.BAD_SIGNATURE)
    if (why := _timestamp_refusal(timestamp)) is not None:
        return refuse(account, Refusal.STALE_TIMESTAMP, why)

    encrypted = query.get("encrypt_type", "raw") == "aes"
    if not encrypted and account.message_mode != MessageMode.PLAINTEXT:
        return refuse(account, Refusal.NOT_ENCRYPTED)
    body = request.body
    crypto: MessageCrypto | None = None
    key_index = 0
    try:
        if encrypted:
            if not account.encoding_aes_keys:
                return refuse(account, Refusal.NO_AES_KEY)
            envelope = parse_envelope(body)
            crypto = MessageCrypto(
                token=account.callback_token, encoding_aes_keys=account.encoding_aes_keys, appid=account.appid
            )
            plain, key_index = crypto.decrypt(
                encrypt=envelope.encrypt, msg_signature=query.get("msg_signature", ""), timestamp=timestamp, nonce=nonce
            )
        else:
            plain = body
        message = parse_message(plain)
    except InvalidSignature:
        return refuse(account, Refusal.BAD_MSG_SIGNATURE)
    except CryptoError as error:
        return refuse(account, Refusal.CANNOT_DECRYPT, error.reason)
    except MalformedMessage as error:
        too_large = len(body) > MAX_BODY_BYTES  # a body sent without Content-Length (chunked)
        return refuse(account, Refusal.TOO_LARGE if too_large else Refusal.MALFORMED, str(error)[:200])
    if message.account_original_id != account.original_id:
        return refuse(account, Refusal.WRONG_ACCOUNT)

    try:
        _, reply = record_inbound(
            account=account, message=message, body=plain, encrypted=encrypted, nonce=nonce, timestamp=int(timestamp)
        )
    except Replayed:
        return refuse(account, Refusal.REPLAYED_NONCE)
    if reply is None:
        return HttpResponse(SUCCESS, content_type="text/plain")
    xml = render_reply(
        reply, openid=message.openid, account_original_id=account.original_id, create_time=int(time.time())
    )
    if crypto is not None:
        xml = encrypt_reply(xml, crypto, timestamp=str(int(time.time())), nonce=nonce, key_index=key_index)
    return HttpResponse(xml, content_type="application/xml; charset=utf-8")
