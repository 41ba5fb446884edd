"""Reading values a browser sends in a query string or form: whatever arrives, a value or None, never an error.

`"²".isdigit()` is True and `int("²")` fails; `int("٣")` is 3; a 30-digit id overflows SQLite's and
PostgreSQL's integers. Each of these answered 500 somewhere. Ids and numbers go through `as_int`.
"""

from __future__ import annotations

import re

_INTEGER = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only, and always inside a 64-bit integer


def as_int(value: object, *, minimum: int | None = None) -> int | None:
    """`value` as an integer when it is one written in ASCII digits (and at least `minimum`), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    if minimum is not None and number < minimum:
        return None
    return number


def as_text(value: object, *, max_length: int = 128) -> str:
    """A short single-line search or filter value: stripped and cut to `max_length`."""
    return value.strip()[:max_length] if isinstance(value, str) else ""
