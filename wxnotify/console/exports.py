"""Exports a spreadsheet opens safely: every CSV the console offers goes through here.

A cell whose text starts with `=`, `+`, `-`, `@` (or a tab / carriage return before one) is a formula to
Excel, LibreOffice and WPS — a patient's nickname or a keyword could run `=HYPERLINK(…)` or worse on the
operator's machine (CSV injection). Such text gets a leading apostrophe, which spreadsheets show as text;
numbers stay numbers. Rows stream: a 300,000-row export never sits in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse

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
