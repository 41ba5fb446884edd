"""Passive replies: the body of the HTTP answer to a push (docs/wechat-protocol.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

from wechat.crypto import MessageCrypto
from wechat.xmlcodec import cdata, render_fields

SUCCESS = "success"  # "nothing to say": WeChat neither shows an error nor retries


@dataclass(frozen=True)
class TextReply:
    content: str


@dataclass(frozen=True)
class Article:
    title: str
    description: str = ""
    pic_url: str = ""
    url: str = ""


@dataclass(frozen=True)
class NewsReply:
    """A 图文 card. WeChat limits passive news replies to one article since 2018-10-12."""

    article: Article


Reply = TextReply | NewsReply


def render_reply(reply: Reply, *, openid: str, account_original_id: str, create_time: int) -> str:
    """Plaintext reply XML; To and From are swapped relative to the push."""
    head: dict[str, str | int | None] = {
        "ToUserName": openid,
        "FromUserName": account_original_id,
        "CreateTime": create_time,
    }
    if isinstance(reply, TextReply):
        return render_fields(head | {"MsgType": "text", "Content": reply.content})
    a = reply.article
    body = render_fields(head | {"MsgType": "news", "ArticleCount": 1})
    item = (
        f"<Articles><item><Title>{cdata(a.title)}</Title><Description>{cdata(a.description)}</Description>"
        f"<PicUrl>{cdata(a.pic_url)}</PicUrl><Url>{cdata(a.url)}</Url></item></Articles>"
    )
    return body[: -len("</xml>")] + item + "</xml>"


def encrypt_reply(plain_xml: str, crypto: MessageCrypto, *, timestamp: str, nonce: str, key_index: int = 0) -> str:
    """The safe-mode envelope around a reply, encrypted with the key the push was decrypted with."""
    return crypto.encrypt(plain_xml.encode("utf-8"), timestamp=timestamp, nonce=nonce, key_index=key_index).to_xml()
