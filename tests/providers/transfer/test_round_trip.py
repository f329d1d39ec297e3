"""Export -> import gives back the same providers: the same request for a
sample message, before and after, on every preset."""

from __future__ import annotations

import json

import pytest

from providers import presets
from providers.admin.preview import SECOND_SAMPLE
from providers.models import Provider
from providers.outbound.redaction import redact_request
from providers.outbound.rendering import compile_request
from providers.outbound.spec import SAMPLE_MESSAGE, request_spec, saved_secrets
from providers.sandbox.demo import PRESET_HOST, provider_from_preset
from providers.transfer.exporting import export_text
from providers.transfer.importing import import_document, parse
from providers.transfer.secrets import Secrets

from ..formdata import BASIC_PASSWORD, credential

pytestmark = pytest.mark.django_db


def from_preset(preset: presets.Preset) -> Provider:
    values = {row.name: credential(row.name, row.secret) for row in preset.variables}
    extra = (
        {"basic_password": BASIC_PASSWORD} if preset.authentication == "basic" else {}
    )
    return provider_from_preset(
        preset.slug,
        base_url=PRESET_HOST,
        values=values,
        nickname=preset.nickname,
        sender_type="transactional",
        sender_id="ACME",
        **extra,
    )


def requests_of(provider: Provider) -> tuple[dict, dict]:
    """The request a sample message makes, as sent and as the preview shows it,
    the callback URL (new on every provider) written as {callback_url}."""
    spec = request_spec(provider)
    samples = [SAMPLE_MESSAGE, SECOND_SAMPLE] if spec.batch_key else [SAMPLE_MESSAGE]
    sent = compile_request(spec).render(samples)
    shown = redact_request(sent, saved_secrets(provider))

    def plain(request) -> dict:
        text = json.dumps(
            {
                "method": request.method,
                "url": request.url,
                "headers": [list(pair) for pair in request.headers],
                "body": request.body.decode(),
            }
        )
        for form in (provider.callback_url, provider.callback_token):
            text = text.replace(form, "{callback_url}")
        return json.loads(text)

    return plain(sent), plain(shown)


def secrets_of(provider: Provider) -> dict[str, str]:
    given = {
        f"{provider.nickname}/{row.name}": row.value
        for row in provider.variables.all()
        if row.secret
    }
    if provider.authentication == "basic":
        given[f"{provider.nickname}/basic_password"] = provider.basic_password
    return given


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda p: p.slug)
def test_export_then_import_makes_the_same_request(preset) -> None:
    original = from_preset(preset)
    before = requests_of(original)
    given = secrets_of(original)
    text = export_text([original])
    Provider.objects.all().delete()

    [imported] = import_document(parse(text), secrets=Secrets(given, environ={}))

    assert requests_of(imported) == before
    assert export_text([imported]) == text
    for value in given.values():
        assert value not in text
