"""The error table's classes drive the sending engine; spot-check the ones the case study hinges on."""

import pytest

from wechat.errors import AUTH_RETRY_CODES, ErrorClass, WeChatAPIError, classify


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (0, ErrorClass.OK),
        (-1, ErrorClass.TRANSIENT),
        (40001, ErrorClass.AUTH),
        (42001, ErrorClass.AUTH),
        (40003, ErrorClass.RECIPIENT),
        (43101, ErrorClass.RECIPIENT),
        (40037, ErrorClass.CAMPAIGN),
        (45009, ErrorClass.CAMPAIGN),
        (45011, ErrorClass.TRANSIENT),
        (43108, ErrorClass.TRANSIENT),
        (47003, ErrorClass.CONTENT),
        (45168, ErrorClass.CONTENT),
        (48001, ErrorClass.CAMPAIGN),
    ],
)
def test_classes(code, cls):
    assert classify(code) is cls
    assert WeChatAPIError(code, "x").error_class is cls


def test_an_unknown_code_halts_rather_than_hammering_everyone():
    assert classify(99999) is ErrorClass.CAMPAIGN


def test_token_is_refreshed_exactly_on_wechats_three_codes():
    assert {40001, 40014, 42001} == AUTH_RETRY_CODES
