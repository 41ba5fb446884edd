"""Issuing, checking and revoking API tokens. A token reads `wxn_<prefix>_<secret>`: the prefix finds the
row, the secret is compared by its digest in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from wxnotify.accounts.models import OfficialAccount
from wxnotify.api.models import ApiToken, Scope

PREFIX = "wxn"
# A token's last use is written at most this often: a busy integration is not a write per call.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(*, account: OfficialAccount, name: str, scopes: Iterable[str], user: User) -> tuple[ApiToken, str]:
    """A new token and its text, which is shown once and never stored."""
    chosen = [s for s in Scope.values if s in set(scopes)] or [Scope.READ.value]
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        account=account, name=name[:50], prefix=prefix, digest=_digest(secret), scopes=chosen, created_by=user
    )
    return token, f"{PREFIX}_{prefix}_{secret}"


def check(text: str) -> ApiToken | None:
    """The active token `text` is, or None (unknown, revoked, malformed, wrong secret)."""
    parts = text.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    token = (
        ApiToken.objects.select_related("account", "created_by")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.digest, _digest(parts[2])):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def revoke(*, token: ApiToken, user: User | None) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=user)
