"""The API writes through the console's own forms: the same checks, in the same words. A JSON body becomes
the form's data (a change starts from what is stored), and the form's first problem becomes the error."""

from __future__ import annotations

from typing import Any

from django import forms

from wxnotify.api.errors import ApiError


def check(form: forms.BaseForm) -> None:
    """Raise the form's problems as a 422: the first as `message`/`field`, all of them in `errors`."""
    if form.is_valid():
        return
    problems: list[dict[str, Any]] = [
        {"field": api_name(name), "message": str(message)}
        for name, messages in form.errors.items()
        for message in messages
    ]
    first = problems[0]
    raise ApiError(422, "invalid", first["message"], first["field"], errors=problems)


def api_name(form_name: str) -> str | None:
    if form_name == "__all__":
        return None
    if form_name.startswith("field_"):  # a template keyword's value
        return f"fields.{form_name.removeprefix('field_')}"
    return form_name


def blank(value: Any) -> Any:
    """A form's data spells "nothing" as an empty string."""
    return "" if value is None else value
