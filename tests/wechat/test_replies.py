"""Passive replies, plaintext and encrypted (docs/wechat-protocol.md §6, §4.3)."""

from defusedxml.ElementTree import fromstring

from wechat.crypto import MessageCrypto
from wechat.replies import Article, NewsReply, TextReply, encrypt_reply, render_reply
from wechat.xmlcodec import parse_envelope


def test_text_reply_swaps_to_and_from():
    xml = render_reply(TextReply("您好，欢迎关注"), openid="o1", account_original_id="gh_1", create_time=5)
    root = fromstring(xml)
    assert root.findtext("ToUserName") == "o1"
    assert root.findtext("FromUserName") == "gh_1"
    assert root.findtext("MsgType") == "text"
    assert root.findtext("Content") == "您好，欢迎关注"


def test_news_reply_has_exactly_one_article():
    article = Article(
        title="HPV 疫苗到货", description="点击预约", pic_url="https://h.example/p.png", url="https://h.example/a"
    )
    root = fromstring(render_reply(NewsReply(article), openid="o1", account_original_id="gh_1", create_time=5))
    assert root.findtext("ArticleCount") == "1"
    items = root.findall("Articles/item")
    assert (
        len(items) == 1
        and items[0].findtext("Title") == "HPV 疫苗到货"
        and items[0].findtext("Url") == "https://h.example/a"
    )


def test_cdata_terminator_in_content_cannot_break_out():
    xml = render_reply(TextReply("a]]><Evil/>b"), openid="o1", account_original_id="gh_1", create_time=5)
    root = fromstring(xml)
    assert root.findtext("Content") == "a]]><Evil/>b" and root.find("Evil") is None


def test_encrypted_reply_decrypts_with_the_same_key():
    crypto = MessageCrypto(
        token="tok", encoding_aes_keys=["kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"], appid="wx49f0ab532d5d035a"
    )
    plain = render_reply(TextReply("好"), openid="o1", account_original_id="gh_1", create_time=5)
    envelope_xml = encrypt_reply(plain, crypto, timestamp="10", nonce="n1")
    root = fromstring(envelope_xml)
    encrypt = parse_envelope(envelope_xml.encode()).encrypt
    decrypted, _ = crypto.decrypt(
        encrypt=encrypt, msg_signature=root.findtext("MsgSignature"), timestamp="10", nonce="n1"
    )
    assert decrypted.decode() == plain
