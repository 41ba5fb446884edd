"""`{% qr_svg url %}`: an inline SVG QR code (segno), for posters and the "open in WeChat" page."""

from __future__ import annotations

import io

import segno
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def qr_svg_text(data: str, *, scale: int = 4) -> str:
    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True, nl=False)
    return out.getvalue().decode("utf-8")


@register.simple_tag
def qr_svg(data: str, scale: int = 4) -> SafeString:
    # segno escapes nothing of ours into the SVG except the data bits, so this is safe to inline.
    return mark_safe(qr_svg_text(data, scale=scale))  # noqa: S308
