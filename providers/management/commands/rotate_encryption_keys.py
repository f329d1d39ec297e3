"""Re-encrypt every stored secret under the newest FIELD_ENCRYPTION_KEYS key."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from providers import crypto
from providers.fields import EncryptedTextField


def encrypted_columns():
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


class Command(BaseCommand):
    help = (
        "After putting a new key first in FIELD_ENCRYPTION_KEYS, re-encrypt all "
        "secrets with it; the old keys can then be removed."
    )

    def handle(self, *args, **options) -> None:
        total = 0
        with transaction.atomic():
            for model, field in encrypted_columns():
                # The ORM would decrypt; rotate_one reads and writes ciphertext.
                for pk in model.objects.values_list("pk", flat=True).iterator():
                    total += self.rotate_one(model, field, pk)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} secret(s)."))

    def rotate_one(self, model, field, pk) -> int:
        from django.db import connection

        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(field.column)
        key = connection.ops.quote_name(model._meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} WHERE {key} = %s", [pk])  # noqa: S608
            (token,) = cursor.fetchone()
            if not token:
                return 0
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE {key} = %s",  # noqa: S608
                [crypto.rotate(token), pk],
            )
        return 1
