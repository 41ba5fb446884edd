"""CSV exports: a cell never becomes a spreadsheet formula; headers and states speak the operator's language."""

from __future__ import annotations

import csv
import io

import pytest

from wxnotify.console.exports import csv_lines, safe_cell


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('=HYPERLINK("http://evil.example","点我")', '\'=HYPERLINK("http://evil.example","点我")'),
        ("+86 138", "'+86 138"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("九价HPV疫苗", "九价HPV疫苗"),
        ("a=b", "a=b"),
        (-45, -45),  # numbers stay numbers
        (None, None),
    ],
)
def test_text_that_a_spreadsheet_would_run_is_kept_as_text(value, shown):
    assert safe_cell(value) == shown


def test_the_csv_has_a_bom_and_quotes_nothing_into_a_formula():
    text = "".join(csv_lines(["名称", "=cmd"], [["=1+1", 3], ["正常", -2]]))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["名称", "'=cmd"], ["'=1+1", "3"], ["正常", "-2"]]


@pytest.mark.django_db(transaction=True)
def test_the_send_log_export_defuses_a_formula_from_wechat_and_speaks_english_when_asked(client, sending):
    from tests.campaigns.test_console_pages import member
    from wxnotify.campaigns.models import Delivery

    account, sim, template, subscribers, campaign = sending
    c = campaign()
    Delivery.objects.create(campaign=c, openid="oPatient1", state="failed", errcode=47003, errmsg="=HYPERLINK(1)")
    member(client, account, "operator")
    export = client.get(f"/campaigns/{c.pk}/log.csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:4] == ["OpenID", "状态", "错误码", "错误信息"]
    assert rows[1][:4] == ["oPatient1", "失败", "47003", "'=HYPERLINK(1)"]
    client.cookies["django_language"] = "en"
    english = b"".join(client.get(f"/campaigns/{c.pk}/log.csv").streaming_content).decode("utf-8-sig")
    assert english.splitlines()[0].startswith("OpenID,State,Error code,Error message")
    assert ",Failed," in english
