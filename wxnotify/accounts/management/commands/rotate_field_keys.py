"""`manage.py rotate_field_keys`: re-encrypt every stored secret with the first key of WXNOTIFY_FIELD_KEYS.

Rotation: put the new key first in WXNOTIFY_FIELD_KEYS (keep the old one after it), run this, then
drop the old key. Loading decrypts with any key; saving encrypts with the first.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from wxnotify.accounts.fields import EncryptedTextField
from wxnotify.accounts.models import OfficialAccount, SharedCredential


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the first WXNOTIFY_FIELD_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        with transaction.atomic():
            for model in (OfficialAccount, SharedCredential):
                names = [f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
                for row in model.objects.select_for_update().all():
                    row.save(update_fields=names)
                    total += 1
        self.stdout.write(f"re-encrypted {total} rows")
