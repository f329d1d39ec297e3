"""providers.crypto and EncryptedTextField: secrets are ciphertext at rest."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection

from providers import crypto
from providers.models import Header, Provider, ProviderVariable

from .formdata import API_KEY, BASIC_PASSWORD, HEADER_SECRET


def new_key() -> str:
    return Fernet.generate_key().decode()


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def provider(db) -> Provider:
    return Provider.objects.create(
        nickname="Twilio",
        endpoint="https://api.example.com/send",
        authentication=Provider.Authentication.BASIC,
        basic_username="AC123",
        basic_password=BASIC_PASSWORD,
    )


# --- at rest -----------------------------------------------------------------------


def test_it_stores_a_variable_value_as_ciphertext(provider) -> None:
    variable = ProviderVariable.objects.create(
        provider=provider, name="apiKey", value=API_KEY, secret=True
    )

    stored = raw("providers_providervariable", "value", variable.pk)

    assert API_KEY not in stored
    assert crypto.decrypt(stored) == API_KEY
    assert ProviderVariable.objects.get(pk=variable.pk).value == API_KEY


def test_it_stores_a_header_value_as_ciphertext(provider) -> None:
    header = Header.objects.create(
        provider=provider, name="X-Api-Secret", value=HEADER_SECRET, secret=True
    )

    stored = raw("providers_header", "value", header.pk)

    assert HEADER_SECRET not in stored
    assert Header.objects.get(pk=header.pk).value == HEADER_SECRET


def test_it_stores_the_basic_password_as_ciphertext(provider) -> None:
    stored = raw("providers_provider", "basic_password", provider.pk)

    assert BASIC_PASSWORD not in stored
    assert Provider.objects.get(pk=provider.pk).basic_password == BASIC_PASSWORD


def test_it_encrypts_the_same_secret_differently_each_time(provider) -> None:
    rows = [
        ProviderVariable.objects.create(provider=provider, name=n, value=API_KEY)
        for n in ("a", "b")
    ]

    first, second = (raw("providers_providervariable", "value", r.pk) for r in rows)

    assert first != second


def test_it_stores_an_empty_secret_as_empty(provider) -> None:
    provider.basic_password = ""
    provider.save()

    assert raw("providers_provider", "basic_password", provider.pk) == ""
    assert Provider.objects.get(pk=provider.pk).basic_password == ""


def test_it_offers_no_lookups_on_ciphertext(provider) -> None:
    # An equality filter would compare plaintext with ciphertext and never match.
    with pytest.raises(FieldError, match="Unsupported lookup 'exact'"):
        list(Provider.objects.filter(basic_password=BASIC_PASSWORD))


# --- key rotation ------------------------------------------------------------------


def test_it_still_decrypts_old_ciphertext_after_a_new_key_is_prepended(
    settings, provider
) -> None:
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [new_key(), *old]

    assert Provider.objects.get(pk=provider.pk).basic_password == BASIC_PASSWORD


def test_it_decrypts_rotated_ciphertext_with_only_the_new_key(settings) -> None:
    old, new = new_key(), new_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt(API_KEY)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    rotated = crypto.rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = [new]

    assert crypto.decrypt(rotated) == API_KEY
    with pytest.raises(ImproperlyConfigured, match="rotate_encryption_keys"):
        crypto.decrypt(token)


def test_it_refuses_to_run_without_keys(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []

    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is empty"):
        crypto.encrypt("x")


def test_it_refuses_a_key_that_is_not_a_fernet_key(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-key"]

    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        crypto.encrypt("x")


# --- masking -----------------------------------------------------------------------


def test_it_shows_only_the_last_four_characters_of_a_long_secret() -> None:
    masked = crypto.mask(API_KEY)

    assert masked == "••••" + API_KEY[-4:]
    assert API_KEY[:-4] not in masked


@pytest.mark.parametrize("secret", ["a", "pass", "elevenchars"])
def test_it_shows_nothing_of_a_short_secret(secret) -> None:
    masked = crypto.mask(secret)

    assert masked == "••••"
    assert not set(secret) & set(masked)


def test_it_masks_an_empty_secret_as_empty() -> None:
    assert crypto.mask("") == ""
