"""Where a patient subscribes to an activity: its page's public address and that address as a QR code (for
posters and screens), the same for the console and the API."""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.urls import reverse

from wxnotify.subscriptions.models import Activity

QR_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def page_url(activity: Activity) -> str:
    return settings.WXNOTIFY_PUBLIC_URL + reverse("subscribe:page", args=[activity.code])


def qr_code(activity: Activity, fmt: str) -> tuple[bytes, str]:
    """The page's QR code as PNG or SVG, and its content type."""
    out = io.BytesIO()
    qr = segno.make(page_url(activity), error="m")
    if fmt == "svg":
        qr.save(out, kind="svg", scale=10, border=2)
    else:
        qr.save(out, kind="png", scale=12, border=2)
    return out.getvalue(), QR_TYPES.get(fmt, QR_TYPES["png"])
