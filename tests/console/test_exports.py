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
    assert rows[0][-1] == "状态代码" and rows[1][-1] == "failed"  # the machine-readable code, in any language
    client.cookies["django_language"] = "en"
    english = b"".join(client.get(f"/campaigns/{c.pk}/log.csv").streaming_content).decode("utf-8-sig")
    assert english.splitlines()[0].startswith("OpenID,State,Error code,Error message")
    assert ",Failed," in english


def test_an_excel_cell_never_becomes_a_formula_or_a_link():
    import openpyxl

    from wxnotify.console.exports import xlsx_file

    rows = [['=HYPERLINK("http://evil.example","点我")', 3, 2.5], ["https://example.com", -4, None]]
    with xlsx_file([("工作表/一:二", ["名称", "次数", "比例"], rows)]) as f:
        book = openpyxl.load_workbook(f)
    sheet = book.worksheets[0]
    assert sheet.title == "工作表_一_二"  # characters Excel refuses in a sheet name
    assert [c.value for c in sheet[1]] == ["名称", "次数", "比例"]
    formula = sheet["A2"]
    assert formula.value == rows[0][0] and formula.data_type == "s"  # text, not a formula
    assert sheet["A3"].hyperlink is None and sheet["B2"].value == 3 and sheet["C2"].value == 2.5
    assert sheet["B3"].value == -4 and sheet["C3"].value in (None, "")


@pytest.mark.django_db(transaction=True)
def test_the_send_log_as_excel(client, sending):
    import io

    import openpyxl

    from tests.campaigns.test_console_pages import member
    from wxnotify.campaigns.models import Delivery

    account, sim, template, subscribers, campaign = sending
    c = campaign()
    Delivery.objects.create(campaign=c, openid="oPatient1", state="failed", errcode=47003, errmsg="=HYPERLINK(1)")
    Delivery.objects.create(campaign=c, openid="oPatient2", state="sent", errcode=0, msgid=123)
    member(client, account, "operator")
    response = client.get(f"/campaigns/{c.pk}/log.xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.worksheets[0]
    assert sheet.title == "发送日志" and sheet["B1"].value == "状态"
    assert [sheet["A2"].value, sheet["B2"].value, sheet["C2"].value, sheet["D2"].value] == [
        "oPatient1",
        "失败",
        47003,
        "=HYPERLINK(1)",
    ]
    assert sheet["D2"].data_type == "s" and sheet.max_row == 3
    filtered = client.get(f"/campaigns/{c.pk}/log.xlsx?state=sent")
    assert openpyxl.load_workbook(io.BytesIO(b"".join(filtered.streaming_content))).worksheets[0].max_row == 2
