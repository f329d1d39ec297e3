"""Importing a provider file: every problem with its place in the file, all or
nothing, secrets from the command line or the environment, never from the file."""

from __future__ import annotations

import json

import pytest

from providers import presets
from providers.models import Provider, Sender
from providers.transfer.exporting import export_text
from providers.transfer.importing import ImportRefused, import_document, parse
from providers.transfer.secrets import Secrets, env_name, parse_given

from ..formdata import API_KEY, BASIC_PASSWORD
from .test_round_trip import from_preset, secrets_of

pytestmark = pytest.mark.django_db


def exported(*slugs: str) -> tuple[dict, dict[str, str]]:
    """A document of the presets' providers (then deleted), and their secrets."""
    made = [from_preset(presets.BY_SLUG[slug]) for slug in slugs]
    given = {k: v for p in made for k, v in secrets_of(p).items()}
    document = json.loads(export_text(made))
    Provider.objects.filter(pk__in=[p.pk for p in made]).delete()
    return document, given


def problems_of(document: dict, given: dict[str, str]) -> list[str]:
    with pytest.raises(ImportRefused) as refused:
        import_document(document, secrets=Secrets(given, environ={}))
    return [str(problem) for problem in refused.value.problems]


def test_an_import_with_five_errors_reports_five_and_keeps_nothing() -> None:
    kept = from_preset(presets.BY_SLUG["sinch"])
    kept_key = kept.variables.get(name="apiToken").value
    document, given = exported("8x8-clevertap", "vonage", "twilio")
    first, second, third = document["providers"]
    first["headers"][1]["value"] = "application/json\r\nX-Injected: 1"
    first["request"]["batch"]["size"] = 5000
    del given["Vonage/apiSecret"]
    second["senders"][0]["sender_type"] = "marketing"
    third["nickname"] = kept.nickname.upper()
    given[f"{third['nickname']}/basic_password"] = BASIC_PASSWORD

    found = problems_of(document, given)

    assert [line.partition(": ")[0] for line in found] == [
        "providers[0].headers[1].value",
        "providers[0].request.batch.size",
        "providers[1].variables[1].value",
        "providers[1].senders[0].sender_type",
        "providers[2].nickname",
    ]
    assert "line break" in found[0]
    assert "1000" in found[1]
    assert "SMSBRIDGE_SECRET_VONAGE_APISECRET" in found[2]
    assert "marketing" in found[3]
    assert "already exists" in found[4]
    assert list(Provider.objects.all()) == [kept]
    assert kept.variables.get(name="apiToken").value == kept_key


def test_a_later_problem_undoes_the_providers_already_saved() -> None:
    document, given = exported("8x8-moengage", "plivo")
    document["providers"][1]["request"]["endpoint"] = "ftp://api.plivo.com/x"

    found = problems_of(document, given)

    assert [line.partition(": ")[0] for line in found] == [
        "providers[1].request.endpoint"
    ]
    assert not Provider.objects.exists()
    assert not Sender.objects.exists()


def test_a_secret_written_in_the_file_is_refused_without_repeating_it() -> None:
    document, given = exported("twilio", "8x8-clevertap")
    document["providers"][0]["authentication"]["password"] = BASIC_PASSWORD
    document["providers"][1]["variables"][1]["value"] = API_KEY

    found = problems_of(document, given)

    assert [line.partition(": ")[0] for line in found] == [
        "providers[0].authentication.password",
        "providers[1].variables[1].value",
    ]
    assert all('write {"secret": true}' in line for line in found)
    assert not any(BASIC_PASSWORD in line or API_KEY in line for line in found)


def test_keys_values_and_fields_the_screen_lacks_are_each_named() -> None:
    document, given = exported("8x8-moengage", "twilio")
    moengage, twilio = document["providers"]
    moengage["authentication"] = {"type": "basic"}
    moengage["request"]["endpont"] = "https://typo.example.com"
    twilio["url_parameters"] = [{"name": "a", "value": "b"}]
    twilio["rate_limit"] = "fast"
    twilio["headers"] = [{"name": "", "value": ""}, "Accept: */*"]

    found = problems_of(document, given)

    assert found == [
        "providers[0].request.endpont: unknown key; see the file format",
        "providers[0].authentication.type: the moengage setup screen has no such field",
        "providers[1].rate_limit: expected a whole number",
        "providers[1].headers[0].name: enter the row's name",
        'providers[1].headers[1]: expected {"name": …, "value": …}',
        "providers[1].url_parameters: the clevertap setup screen has no url_parameters",
    ]


def test_secrets_come_from_the_environment_by_provider_and_name(
    monkeypatch,
) -> None:
    document, given = exported("vonage")
    monkeypatch.setenv(env_name("Vonage", "apiSecret"), given["Vonage/apiSecret"])

    [provider] = import_document(document, secrets=Secrets())

    assert env_name("Vonage", "apiSecret") == "SMSBRIDGE_SECRET_VONAGE_APISECRET"
    assert provider.variables.get(name="apiSecret").value == given["Vonage/apiSecret"]


def test_a_secret_for_one_provider_wins_over_one_for_all() -> None:
    secrets = Secrets(
        parse_given(["apiKey=for-everyone", "8x8 SMS/apiKey=for-8x8"]), environ={}
    )

    assert secrets.find("8x8 SMS", "apiKey") == "for-8x8"
    assert secrets.find("Infobip", "apiKey") == "for-everyone"
    assert secrets.find("Infobip", "other") == ""


def test_a_secret_given_without_a_name_is_refused_without_its_value() -> None:
    with pytest.raises(ValueError, match="NAME=value") as refused:
        parse_given(["sk-live-no-equals-sign-here"])

    assert "sk-live-no-equals-sign-here"[:40] in str(refused.value)
    with pytest.raises(ValueError, match="NAME=value"):
        parse_given(["=value"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"format": "smsbridge-providers",\n "version": 1, providers: []}', "line 2"),
        ("[]", "(file): expected an object with format and providers"),
        ('{"format": "other", "version": 2}', "format: expected"),
        ('{"format": "smsbridge-providers", "version": 1}', "providers: expected"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_a_file_that_is_not_a_provider_file_says_why(text, expected) -> None:
    with pytest.raises(ImportRefused) as refused:
        parse(text)

    assert expected in str(refused.value.problems[0])
