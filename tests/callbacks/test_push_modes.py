"""POST in plaintext, compatible and safe mode: accepted messages are stored once and answered in time."""

from urllib.parse import urlencode

import pytest
from defusedxml.ElementTree import fromstring

from tests.conftest import as_account, fixture_xml
from wechat.crypto import MessageCrypto, generate_encoding_aes_key
from wechat.push import build_push
from wxnotify.callbacks.models import InboundMessage


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_each_mode_stores_the_decrypted_message_and_replies_success(push, make_account, mode):
    account = make_account(mode=mode)
    response = push(account, as_account(fixture_xml("text.xml"), account))
    assert response.status_code == 200
    assert response.content == b"success"
    row = InboundMessage.objects.get(account=account)
    assert (row.msg_type, row.openid, row.encrypted) == ("text", "otFpruAK8D-E6EfStSYonYSBZ8_4", mode != "plaintext")
    assert "HPV疫苗什么时候到？" in row.body


@pytest.mark.parametrize("mode", ["safe", "compatible"])
def test_an_encrypting_account_refuses_a_plaintext_push(push, make_account, mode):
    """In compatible mode WeChat always adds the ciphertext and msg_signature: a push without them is not WeChat's."""
    account = make_account(mode=mode)
    response = push(account, as_account(fixture_xml("follow.xml"), account), mode="plaintext")
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_message_encrypted_with_the_previous_key_is_accepted_after_a_key_change(client, make_account):
    account = make_account(mode="safe")
    old_key = account.encoding_aes_key
    built = build_push(
        as_account(fixture_xml("unfollow.xml"), account),
        token=account.callback_token,
        appid=account.appid,
        mode="safe",
        encoding_aes_key=old_key,
    )
    account.previous_encoding_aes_key, account.encoding_aes_key = old_key, generate_encoding_aes_key()
    account.save()
    r = client.post(
        f"/wechat/{account.appid}/callback?{urlencode(built.query)}", data=built.body, content_type="text/xml"
    )
    assert r.status_code == 200 and InboundMessage.objects.filter(account=account, event="unsubscribe").exists()


def test_message_addressed_to_another_account_is_refused(push, make_account):
    account = make_account(mode="plaintext")
    response = push(account, fixture_xml("follow.xml"))  # ToUserName gh_123456789abc is not this account
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_ciphertext_for_another_appid_is_refused(client, make_account):
    account = make_account(mode="safe")
    other = build_push(
        as_account(fixture_xml("follow.xml"), account),
        token=account.callback_token,
        appid="wx9999999999999999",
        mode="safe",
        encoding_aes_key=account.encoding_aes_key,
    )
    r = client.post(
        f"/wechat/{account.appid}/callback?{urlencode(other.query)}", data=other.body, content_type="text/xml"
    )
    assert r.status_code == 400 and b"another appid" in r.content
    assert not InboundMessage.objects.exists()


def test_bad_signatures_are_403(push, make_account):
    account = make_account(mode="safe")
    body = as_account(fixture_xml("follow.xml"), account)
    assert push(account, body, query={"signature": "0" * 40}).status_code == 403
    assert push(account, body, query={"msg_signature": "0" * 40}).status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_reply_from_a_handler_is_encrypted_in_safe_mode(push, make_account):
    from wechat.messages import MenuClickEvent
    from wechat.replies import TextReply
    from wxnotify.callbacks import dispatch

    def reply_to_click(account, event, inbound):
        return TextReply(f"您点击了 {event.key}")

    with dispatch.handling(reply_to_click, MenuClickEvent):
        account = make_account(mode="safe")
        response = push(account, as_account(fixture_xml("menu_click.xml"), account))
        assert response.status_code == 200
        root = fromstring(response.content)
        crypto = MessageCrypto(
            token=account.callback_token, encoding_aes_keys=account.encoding_aes_keys, appid=account.appid
        )
        plain, _ = crypto.decrypt(
            encrypt=root.findtext("Encrypt"),
            msg_signature=root.findtext("MsgSignature"),
            timestamp=root.findtext("TimeStamp"),
            nonce=root.findtext("Nonce"),
        )
        reply = fromstring(plain)
        assert reply.findtext("Content") == "您点击了 MENU_GUIDE_OPD"
        assert reply.findtext("ToUserName") == "otFpruAK8D-E6EfStSYonYSBZ8_4"
        assert reply.findtext("FromUserName") == account.original_id
