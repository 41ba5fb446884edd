"""AES message encryption of compatible and safe mode (docs/wechat-protocol.md §4.3).

AES-256-CBC, key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 padding to 32-byte
blocks, plaintext = random(16) || len(msg) as uint32 big-endian || msg || appid.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wechat.signature import callback_signature, is_valid_signature

BLOCK = 32
_KEY_ALPHABET = set(string.ascii_letters + string.digits)


class CryptoError(ValueError):
    """A ciphertext that cannot be trusted; `reason` says why in words fit for a log line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidSignature(CryptoError):
    pass


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey, or ValueError if it is not one."""
    if len(encoding_aes_key) != 43 or not set(encoding_aes_key) <= _KEY_ALPHABET:
        raise ValueError("EncodingAESKey must be 43 letters and digits")
    return base64.b64decode(encoding_aes_key + "=")


def generate_encoding_aes_key() -> str:
    """A fresh EncodingAESKey, as WeChat's backend would offer one (43 letters and digits)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    if not data:
        raise CryptoError("empty plaintext")
    n = data[-1]
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise CryptoError("bad padding")
    return data[:-n]


def encrypt(key: bytes, message: bytes, appid: str, *, random_prefix: bytes | None = None) -> str:
    """base64 ciphertext of `message` for `appid` (the `Encrypt` element)."""
    prefix = random_prefix if random_prefix is not None else secrets.token_bytes(16)
    if len(prefix) != 16:
        raise ValueError("random prefix must be 16 bytes")
    plain = _pad(prefix + struct.pack(">I", len(message)) + message + appid.encode("utf-8"))
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt(key: bytes, ciphertext_b64: str, appid: str) -> bytes:
    """The message inside `ciphertext_b64`, checking padding, length and the trailing appid."""
    try:
        raw = base64.b64decode(ciphertext_b64, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("ciphertext is not base64") from None
    if not raw or len(raw) % 16:
        raise CryptoError("ciphertext length is not a multiple of the AES block")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = _unpad(decryptor.update(raw) + decryptor.finalize())
    if len(plain) < 20:
        raise CryptoError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise CryptoError("declared length exceeds plaintext")
    message, tail = plain[20 : 20 + length], plain[20 + length :]
    if tail != appid.encode("utf-8"):
        raise CryptoError("ciphertext is for another appid")
    return message


@dataclass(frozen=True)
class Envelope:
    """What safe mode sends back as a reply: the encrypted message and its signature."""

    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str

    def to_xml(self) -> str:
        return (
            f"<xml><Encrypt><![CDATA[{self.encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{self.msg_signature}]]></MsgSignature>"
            f"<TimeStamp>{self.timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{self.nonce}]]></Nonce></xml>"
        )


class MessageCrypto:
    """Encrypt and decrypt for one account, trying the current and then the previous EncodingAESKey.

    WeChat's FAQ: keep the previous key after a change, and answer with whichever key worked,
    because messages in flight during the switch are still encrypted with the old one.
    """

    def __init__(self, *, token: str, encoding_aes_keys: Sequence[str], appid: str) -> None:
        keys = [k for k in encoding_aes_keys if k]
        if not keys:
            raise ValueError("at least one EncodingAESKey is needed")
        self.token = token
        self.appid = appid
        self._keys = [decode_aes_key(k) for k in keys]

    def decrypt(self, *, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> tuple[bytes, int]:
        """(plaintext XML, index of the key that worked); InvalidSignature or CryptoError otherwise."""
        if not is_valid_signature(msg_signature, self.token, timestamp, nonce, encrypt):
            raise InvalidSignature("msg_signature does not match")
        last_error = CryptoError("no key")
        for index, key in enumerate(self._keys):
            try:
                return decrypt(key, encrypt, self.appid), index
            except CryptoError as error:
                last_error = error
        raise last_error

    def encrypt(
        self,
        message: bytes,
        *,
        timestamp: str,
        nonce: str,
        key_index: int = 0,
        random_prefix: bytes | None = None,
    ) -> Envelope:
        ciphertext = encrypt(self._keys[key_index], message, self.appid, random_prefix=random_prefix)
        return Envelope(
            encrypt=ciphertext,
            msg_signature=callback_signature(self.token, timestamp, nonce, ciphertext),
            timestamp=timestamp,
            nonce=nonce,
        )
