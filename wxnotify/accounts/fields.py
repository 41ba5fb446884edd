"""A text field stored encrypted (Fernet) with the keys of settings.FIELD_ENCRYPTION_KEYS.

The first key encrypts and every key decrypts (MultiFernet), so a key is rotated by putting a new
one in front and running `manage.py rotate_field_keys`. A database dump alone reveals no secret.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


class EncryptedTextField(models.TextField):
    """Plain str in Python, ciphertext in the database. Not searchable, by design."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        try:
            return fernet().decrypt(value.encode()).decode("utf-8")
        except InvalidToken:
            raise ImproperlyConfigured(
                f"{self.model.__name__}.{self.name} cannot be decrypted: "
                "is WXNOTIFY_FIELD_KEYS the key it was saved with?"
            ) from None

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return fernet().encrypt(str(value).encode("utf-8")).decode("ascii")
