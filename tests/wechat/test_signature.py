"""Signatures against the verified vectors of docs/wechat-protocol.md (§4.1, §4.3, §14)."""

from wechat.signature import callback_signature, is_valid_signature, jssdk_signature, verify_url


def test_url_verification_vectors_from_the_official_doc():
    assert callback_signature("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    assert callback_signature("AAAAA", "1714037059", "486452656") == "899cf89e464efb63f54ddac96b0a0a235f53aa78"


def test_verify_url_echoes_only_with_the_right_signature():
    good = {"signature": "f464b24fc39322e44b38aa78f5edd27bd1441696", "timestamp": "1714036504", "nonce": "1514711492"}
    assert verify_url("AAAAA", echostr="hello-5678", **good) == "hello-5678"
    assert verify_url("AAAAB", echostr="hello-5678", **good) is None
    assert verify_url("AAAAA", echostr="x", **{**good, "nonce": "1514711493"}) is None


def test_msg_signature_vector_includes_the_ciphertext():
    # wechatpy's test_crypto vector: token 123456, the Encrypt value of tests/wechat/test_crypto.py
    from tests.wechat.test_crypto import VECTOR_ENCRYPT

    assert (
        callback_signature("123456", "1411525903", "461056294", VECTOR_ENCRYPT)
        == "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
    )


def test_signature_check_survives_garbage_without_raising():
    assert not is_valid_signature("", "t", "1", "2")
    assert not is_valid_signature("ü" * 40, "t", "1", "2")
    assert not is_valid_signature("f464b24fc39322e44b38aa78f5edd27bd144169", "AAAAA", "1714036504", "1514711492")


def test_jssdk_signature_matches_the_official_example_and_ignores_the_fragment():
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    args = {"jsapi_ticket": ticket, "noncestr": "Wm3WZYTPz0wzccnW", "timestamp": 1414587457}
    expected = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    assert jssdk_signature(url="http://mp.weixin.qq.com?params=value", **args) == expected
    assert jssdk_signature(url="http://mp.weixin.qq.com?params=value#section", **args) == expected
    assert jssdk_signature(url="http://mp.weixin.qq.com?params=other", **args) != expected
