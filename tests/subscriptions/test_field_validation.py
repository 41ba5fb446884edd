"""T2: values are checked with WeChat's keyword rules, and the message names the field and the reason."""

from django.contrib.auth import get_user_model
from django.utils import translation

from tests.subscriptions.conftest import make_template
from wxnotify.accounts.models import Membership
from wxnotify.subscriptions.validation import validate_fields

KEYWORDS = [
    {"key": "thing1", "name": "疫苗名称", "rule": "thing"},
    {"key": "date2", "name": "到货时间", "rule": "date"},
    {"key": "phrase3", "name": "状态", "rule": "phrase"},
]


def test_messages_name_the_field_and_the_rule():
    with translation.override("zh-hans"):
        errors = validate_fields(
            KEYWORDS, {"thing1": "九价HPV疫苗（进口）到货啦快来预约吧先到先得", "date2": "明天", "phrase3": ""}
        )
    messages = {e.key: e.message for e in errors}
    assert messages["thing1"] == "「疫苗名称」太长：最多 20 个字符。"  # the limit once (the field's hint says the rule)
    assert messages["date2"].startswith("「到货时间」不符合微信的格式要求：应为日期")
    assert messages["phrase3"] == "「状态」不能为空。"
    assert validate_fields(KEYWORDS, {"thing1": "九价HPV疫苗", "date2": "2026年12月1日", "phrase3": "已到货"}) == []


def test_english_messages():
    with translation.override("en"):
        errors = validate_fields(KEYWORDS, {"thing1": "ok", "date2": "2026年12月1日", "phrase3": "abc"})
    assert errors[0].message.startswith('"状态" does not match WeChat\'s format')


def test_the_try_out_form_checks_as_you_type(client, make_account):
    account = make_account()
    template = make_template(account, template_id="T1")
    user = get_user_model().objects.create_user("op", password="op-password-12")
    Membership.objects.create(user=user, account=account, role="operator")
    client.force_login(user)
    bad = client.post(
        f"/templates/{template.pk}/", {"thing1": "", "date2": "下周"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-error="thing1"' in bad and 'data-error="date2"' in bad and "<html" not in bad
    good = client.post(
        f"/templates/{template.pk}/", {"thing1": "九价HPV疫苗", "date2": "2026年12月1日"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-valid="yes"' in good and "九价HPV疫苗" in good  # shown in the card preview
