"""AES message crypto against wechatpy's verified vector (docs/wechat-protocol.md §4.3), and what must be refused."""

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from wechat.crypto import (
    CryptoError,
    InvalidSignature,
    MessageCrypto,
    decode_aes_key,
    decrypt,
    encrypt,
    generate_encoding_aes_key,
)

TOKEN = "123456"
KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APPID = "wx49f0ab532d5d035a"
VECTOR_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJ"
    "RvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZ"
    "BtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMx"
    "uGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
VECTOR_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
VECTOR_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5"
    "nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03o"
    "xI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE"
    "8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)


def crypto(*keys: str) -> MessageCrypto:
    return MessageCrypto(token=TOKEN, encoding_aes_keys=list(keys or [KEY]), appid=APPID)


def test_decrypts_the_wechatpy_vector():
    plain, key_index = crypto().decrypt(
        encrypt=VECTOR_ENCRYPT,
        msg_signature="74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
        timestamp="1411525903",
        nonce="461056294",
    )
    assert key_index == 0
    assert len(plain) == 281
    assert b"<Content><![CDATA[test]]></Content>" in plain
    assert b"<FromUserName><![CDATA[messense]]></FromUserName>" in plain


def test_encrypts_to_the_wechatpy_vector_with_its_fixed_random_prefix():
    envelope = crypto().encrypt(
        VECTOR_REPLY.encode(), timestamp="1411525903", nonce="461056294", random_prefix=b"1234567890123456"
    )
    assert envelope.encrypt == VECTOR_REPLY_ENCRYPT
    assert envelope.msg_signature == "407518b7649e86ef23978113f92d27afa9296533"
    assert "<TimeStamp>1411525903</TimeStamp>" in envelope.to_xml()


def test_previous_key_still_decrypts_and_is_reported():
    new_key = generate_encoding_aes_key()
    plain, key_index = crypto(new_key, KEY).decrypt(
        encrypt=VECTOR_ENCRYPT,
        msg_signature="74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
        timestamp="1411525903",
        nonce="461056294",
    )
    assert key_index == 1 and b"messense" in plain


def test_wrong_msg_signature_is_refused_before_decrypting():
    with pytest.raises(InvalidSignature):
        crypto().decrypt(encrypt=VECTOR_ENCRYPT, msg_signature="0" * 40, timestamp="1411525903", nonce="461056294")


def test_ciphertext_for_another_appid_is_refused():
    key = decode_aes_key(KEY)
    with pytest.raises(CryptoError, match="another appid"):
        decrypt(key, encrypt(key, b"<xml/>", "wxaaaaaaaaaaaaaaaa"), APPID)


def _raw_encrypt(key: bytes, plain: bytes) -> str:
    e = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(e.update(plain) + e.finalize()).decode()


@pytest.mark.parametrize(
    ("plain", "reason"),
    [
        (b"\x00" * 32, "bad padding"),  # pad byte 0
        (b"A" * 31 + b"\x21", "bad padding"),  # pad byte 33 > 32
        (b"A" * 30 + b"\x02\x03", "bad padding"),  # inconsistent pad bytes
        (b"R" * 16 + struct.pack(">I", 9999) + b"<xml/>" + b"\x06" * 6, "declared length"),
    ],
)
def test_bad_padding_and_lengths_are_refused(plain, reason):
    key = decode_aes_key(KEY)
    with pytest.raises(CryptoError, match=reason):
        decrypt(key, _raw_encrypt(key, plain), APPID)


@pytest.mark.parametrize("ciphertext", ["", "not base64!!", "AAAA", base64.b64encode(b"x" * 17).decode()])
def test_malformed_ciphertext_is_refused(ciphertext):
    with pytest.raises(CryptoError):
        decrypt(decode_aes_key(KEY), ciphertext, APPID)


@given(st.binary(max_size=2000), st.sampled_from([KEY, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"]))
def test_round_trip_any_message(message, key):
    c = MessageCrypto(token="tok", encoding_aes_keys=[key], appid=APPID)
    envelope = c.encrypt(message, timestamp="1", nonce="2")
    assert len(base64.b64decode(envelope.encrypt)) % 32 == 0
    assert c.decrypt(encrypt=envelope.encrypt, msg_signature=envelope.msg_signature, timestamp="1", nonce="2") == (
        message,
        0,
    )


def test_generated_keys_are_valid_encoding_aes_keys():
    key = generate_encoding_aes_key()
    assert len(key) == 43 and key.isalnum() and len(decode_aes_key(key)) == 32
    with pytest.raises(ValueError):
        decode_aes_key(key[:-1])
