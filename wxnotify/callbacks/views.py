"""`/wechat/<appid>/callback`: WeChat's server URL.

Order of checks: known account → size → `signature` → (encrypted) `msg_signature` and AES →
well-formed XML → addressed to this account. Anything that fails gets 403 (signature) or 400
(body) and nothing is stored; only an accepted message reaches the database.
"""

from __future__ import annotations

import logging
import time

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from wechat.crypto import CryptoError, InvalidSignature, MessageCrypto
from wechat.replies import SUCCESS, encrypt_reply, render_reply
from wechat.signature import is_valid_signature, verify_url
from wechat.xmlcodec import MAX_BODY_BYTES, MalformedMessage, parse_envelope, parse_message
from wxnotify.accounts.models import MessageMode, OfficialAccount
from wxnotify.callbacks.services import record_inbound

log = logging.getLogger(__name__)


def _bad(account: OfficialAccount, reason: str) -> HttpResponse:
    log.warning("callback for %s refused (400): %s", account.appid, reason)
    return HttpResponseBadRequest(reason, content_type="text/plain; charset=utf-8")


def _forbidden(account: OfficialAccount, reason: str) -> HttpResponse:
    log.warning("callback for %s refused (403): %s", account.appid, reason)
    return HttpResponseForbidden(reason, content_type="text/plain; charset=utf-8")


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest, appid: str) -> HttpResponse:
    account = get_object_or_404(OfficialAccount, appid=appid, is_active=True)
    query = request.GET
    signature, timestamp, nonce = (query.get(k, "") for k in ("signature", "timestamp", "nonce"))

    if request.method == "GET":
        echostr = verify_url(
            account.callback_token,
            signature=signature,
            timestamp=timestamp,
            nonce=nonce,
            echostr=query.get("echostr", ""),
        )
        if echostr is None:
            return _forbidden(account, "signature does not match")
        return HttpResponse(echostr, content_type="text/plain")

    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _bad(account, "bad Content-Length")
    if declared > MAX_BODY_BYTES:
        return _bad(account, f"body larger than {MAX_BODY_BYTES} bytes")
    if not is_valid_signature(signature, account.callback_token, timestamp, nonce):
        return _forbidden(account, "signature does not match")
    body = request.body

    encrypted = query.get("encrypt_type", "raw") == "aes"
    crypto: MessageCrypto | None = None
    key_index = 0
    try:
        if encrypted:
            if not account.encoding_aes_keys:
                return _bad(account, "encrypted push but no EncodingAESKey is configured")
            envelope = parse_envelope(body)
            crypto = MessageCrypto(
                token=account.callback_token, encoding_aes_keys=account.encoding_aes_keys, appid=account.appid
            )
            plain, key_index = crypto.decrypt(
                encrypt=envelope.encrypt, msg_signature=query.get("msg_signature", ""), timestamp=timestamp, nonce=nonce
            )
        elif account.message_mode == MessageMode.SAFE:
            return _bad(account, "plaintext push to an account in safe mode")
        else:
            plain = body
        message = parse_message(plain)
    except InvalidSignature as error:
        return _forbidden(account, error.reason)
    except CryptoError as error:
        return _bad(account, f"cannot decrypt: {error.reason}")
    except MalformedMessage as error:
        return _bad(account, str(error))
    if message.account_original_id != account.original_id:
        return _bad(account, "ToUserName is not this account's original id")

    _, reply = record_inbound(account=account, message=message, body=plain, encrypted=encrypted)
    if reply is None:
        return HttpResponse(SUCCESS, content_type="text/plain")
    xml = render_reply(
        reply, openid=message.openid, account_original_id=account.original_id, create_time=int(time.time())
    )
    if crypto is not None:
        xml = encrypt_reply(xml, crypto, timestamp=str(int(time.time())), nonce=nonce, key_index=key_index)
    return HttpResponse(xml, content_type="application/xml; charset=utf-8")
