"""Keyword value rules (docs/wechat-protocol.md §2.4): what WeChat accepts and what it answers 47003 to."""

import pytest

from wechat.keywords import check_data, check_value, placeholders, rule_of


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("thing1", "心内科复诊"),
        ("thing1", "HPV疫苗（九价）到货啦！"),
        ("number2", "3"),
        ("number2", "12.5"),
        ("letter3", "ABC"),
        ("symbol4", "★"),
        ("character_string5", "A0123-XY"),
        ("time6", "15:01"),
        ("time6", "2019年10月1日 15:01"),
        ("time6", "2026年12月3日 09:30~11:30"),
        ("date7", "2019年10月1日"),
        ("date7", "2026-12-03 09:30"),
        ("amount8", "¥100.00"),
        ("amount8", "39.8元"),
        ("phone_number9", "+86-0766-66888866"),
        ("car_number10", "粤A8Z888挂"),
        ("name11", "张三"),
        ("name11", "Zhang San"),
        ("phrase12", "配送中"),
    ],
)
def test_accepted(key, value):
    assert check_value(key, value) is None


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("thing1", "", "empty"),
        ("thing1", "   ", "empty"),
        ("thing1", "一" * 21, "too_long"),
        ("thing1", "第一行\n第二行", "invalid"),
        ("number2", "三", "invalid"),
        ("letter3", "AB1", "invalid"),
        ("symbol4", "★★★★★★", "too_long"),
        ("symbol4", "a", "invalid"),
        ("character_string5", "编号A01", "invalid"),
        ("time6", "下午三点", "invalid"),
        ("date7", "明天", "invalid"),
        ("amount8", "一百元", "invalid"),
        ("phone_number9", "0766-6688886612345678", "too_long"),
        ("car_number10", "粤A8Z888挂123", "too_long"),
        ("name11", "user25", "invalid"),
        ("name11", "欧阳" * 6, "too_long"),
        ("phrase12", "配送中123", "too_long"),
        ("phrase12", "ok", "invalid"),
    ],
)
def test_refused_with_a_reason(key, value, reason):
    problem = check_value(key, value)
    assert problem is not None and problem.reason == reason and problem.key == key


def test_wechats_47003_wording():
    assert check_value("thing3", "").errmsg() == "argument invalid! data.thing3.value is emtpy"
    assert check_value("phrase16", "abc").errmsg() == "argument invalid! data.phrase16.value invalid"


def test_placeholders_and_rules_come_from_the_template_content():
    content = "会议时间:{{date2.DATA}}\n会议地点:{{thing1.DATA}}\n编号:{{character_string13.DATA}}"
    assert placeholders(content) == ["date2", "thing1", "character_string13"]
    assert rule_of("character_string13") == "character_string"


def test_check_data_reports_unknown_missing_and_bad_fields():
    problems = check_data(["thing1", "time2"], {"thing1": "", "thing9": "x"})
    assert {(p.key, p.reason) for p in problems} == {
        ("thing9", "unknown_key"),
        ("thing1", "empty"),
        ("time2", "missing"),
    }
