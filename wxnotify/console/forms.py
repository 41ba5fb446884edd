"""What every console form shares."""

from __future__ import annotations

from typing import Any


class LabelsAbove:
    """A console form's labels stand above their fields: no colon after them (Django adds an ASCII ":",
    wrong in Chinese and not needed above a field)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
