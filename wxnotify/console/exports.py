"""Exports a spreadsheet opens safely: every CSV the console offers goes through here.

A cell whose text starts with `=`, `+`, `-`, `@` (or a tab / carriage return before one) is a formula to
Excel, LibreOffice and WPS — a patient's nickname or a keyword could run `=HYPERLINK(…)` or worse on the
operator's machine (CSV injection). Such text gets a leading apostrophe, which spreadsheets show as text;
numbers stay numbers. In .xlsx, text is written as text (never a formula, never a link). Rows stream: a
300,000-row export never sits in memory.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import xlsxwriter
from django.http import FileResponse, StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should show it: text that would be a formula is prefixed with `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so Excel opens the Chinese text as UTF-8
    yield writer.writerow([safe_cell(str(h)) for h in header])
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def csv_response(filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_file(sheets: Iterable[tuple[str, Sequence[Any], Iterable[Sequence[Any]]]]) -> IO[bytes]:
    """An .xlsx workbook, a sheet per (title, header, rows), written row by row in XlsxWriter's constant-memory
    mode into a temporary file (memory stays flat for 300,000 rows). Text is always written as text — never
    a formula or a link, whatever it starts with — and numbers as numbers. The file is rewound for reading."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    workbook = xlsxwriter.Workbook(
        out, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "in_memory": False}
    )
    bold = workbook.add_format({"bold": True})
    for title, header, rows in sheets:
        sheet = workbook.add_worksheet(_sheet_name(title))
        for col, name in enumerate(header):
            sheet.write_string(0, col, str(name), bold)
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if isinstance(value, bool) or value is None:
                    sheet.write_string(r, col, "" if value is None else str(value))
                elif isinstance(value, int | float):
                    sheet.write_number(r, col, value)
                else:
                    sheet.write_string(r, col, str(value))
    workbook.close()
    out.seek(0)
    return out


def _sheet_name(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\."""
    return "".join("_" if c in "[]:*?/\\" else c for c in title)[:31] or "Sheet"


def xlsx_response(filename: str, sheets: Iterable[tuple[str, Sequence[Any], Iterable[Sequence[Any]]]]) -> FileResponse:
    return FileResponse(
        xlsx_file(sheets),
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
