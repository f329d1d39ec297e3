from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from providers.models import Provider, ProviderVariable


def raw_value(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT value FROM providers_providervariable WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_it_reencrypts_secrets_so_the_old_key_can_be_dropped(settings):
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    provider = Provider.objects.create(nickname="p", endpoint="https://8.8.8.8/")
    variable = ProviderVariable.objects.create(
        provider=provider, name="apiKey", value="s3cret-api-key-value", secret=True
    )
    before = raw_value(variable.pk)

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]
    call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert raw_value(variable.pk) != before

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert ProviderVariable.objects.get(pk=variable.pk).value == "s3cret-api-key-value"
