"""manage.py export_providers and import_providers, and a provider using every
part of the file (OAuth, callback credentials, a status mapping, URL
parameters, several senders with quiet hours) kept whole by the round trip."""

from __future__ import annotations

import io
import json
from datetime import time

import pytest
from django.core.management import CommandError, call_command

from providers.forms.setup import FORMS
from providers.models import Provider, Sender
from providers.transfer.exporting import export_text

from ...oauth_provider import CLIENT_SECRET, TOKEN_URL
from ..formdata import API_KEY, screen_data

pytestmark = pytest.mark.django_db

DLR_LOGIN = "cb-user:cb-pass-4d9e1f"


def every_part() -> list[Provider]:
    """An OAuth CleverTap provider with callback credentials and a mapping, and
    a MoEngage one with URL parameters and a second, quiet sender."""
    clevertap = FORMS["clevertap"](
        screen_data(
            "clevertap",
            rows={
                "headers": [("Content-Type", "application/json", False)],
                "variables": [("subAccountId", "acme_sub", False)],
            },
            authentication="oauth",
            oauth_token_url=TOKEN_URL,
            oauth_client_id="acme",
            oauth_client_secret=CLIENT_SECRET,
            oauth_scope="sms.send",
            oauth_parameters="audience=https://sms.example.com",
            oauth_credentials_in="body",
            dlr_credentials=DLR_LOGIN,
            dlr_id_path="meta.mid",
            dlr_status_path="status",
            dlr_status_values="DELIVRD = delivered\nUNDELIV = failed",
            rate_limit="40",
            fallback_codes="9, 29",
        )
    )
    assert clevertap.is_valid(), clevertap.errors
    moengage = FORMS["moengage"](
        screen_data(
            "moengage",
            rows={"url_parameters": [("channel", "sms", False)]},
            nickname="Moe",
            sender_name="Moe promo",
            sender_type="promotional",
            is_default="on",
        )
    )
    assert moengage.is_valid(), moengage.errors
    made = [clevertap.save(), moengage.save()]
    Sender.objects.create(
        provider=made[1],
        name="Moe night",
        sender_id="MOENIGHT",
        sender_type="transactional",
        quiet_hours_start=time(22, 0),
        quiet_hours_end=time(7, 30),
        time_zone="Asia/Singapore",
    )
    return made


def secrets_args() -> list[str]:
    return [
        f"--secret=8x8_SMS/oauth_client_secret={CLIENT_SECRET}",
        f"--secret=8x8_SMS/dlr_credentials={DLR_LOGIN}",
        f"--secret=apiKey={API_KEY}",
    ]


def test_every_part_of_a_provider_survives_export_and_import(tmp_path) -> None:
    before = every_part()
    text = export_text(before)
    file = tmp_path / "providers.json"
    call_command("export_providers", "--output", str(file))
    fields = [f.name for f in Provider._meta.concrete_fields]
    skip = {"id", "callback_token", "created_at", "updated_at"}
    kept = [{f: getattr(p, f) for f in fields if f not in skip} for p in before]
    senders = list(Sender.objects.values_list("name", "sender_id", "sender_type"))
    Provider.objects.all().delete()

    out = io.StringIO()
    call_command("import_providers", str(file), *secrets_args(), stdout=out)

    after = list(Provider.objects.order_by("nickname"))
    assert file.read_text() == text
    assert [{f: getattr(p, f) for f in fields if f not in skip} for p in after] == kept
    assert after[0].oauth_client_secret == CLIENT_SECRET
    assert after[0].dlr_credential_pairs() == [("cb-user", "cb-pass-4d9e1f")]
    assert sorted(Sender.objects.values_list("name", "sender_id", "sender_type")) == (
        sorted(senders)
    )
    night = Sender.objects.get(name="Moe night")
    assert (night.quiet_hours_start, night.quiet_hours_end) == (time(22), time(7, 30))
    assert night.time_zone == "Asia/Singapore"
    assert out.getvalue().startswith("Imported 2 provider(s): 8x8_SMS, Moe.")
    for secret in (CLIENT_SECRET, DLR_LOGIN, API_KEY, "cb-pass-4d9e1f"):
        assert secret not in text


def test_export_names_the_providers_asked_for_and_refuses_unknown_ones() -> None:
    every_part()
    out = io.StringIO()

    call_command("export_providers", "moe", stdout=out)

    assert [p["nickname"] for p in json.loads(out.getvalue())["providers"]] == ["Moe"]
    with pytest.raises(CommandError, match="No provider is named “Nope”"):
        call_command("export_providers", "Moe", "Nope")


def test_import_prints_each_problem_with_its_place_and_keeps_nothing(
    tmp_path,
) -> None:
    every_part()
    document = json.loads(export_text(Provider.objects.order_by("nickname")))
    Provider.objects.all().delete()
    document["providers"][1]["senders"][1]["time_zone"] = "Mars/Olympus"
    file = tmp_path / "providers.json"
    file.write_text(json.dumps(document))
    err = io.StringIO()

    with pytest.raises(CommandError, match="2 problem"):
        call_command(
            "import_providers",
            str(file),
            f"--secret=8x8_SMS/oauth_client_secret={CLIENT_SECRET}",
            f"--secret=apiKey={API_KEY}",
            "--no-input",
            stderr=err,
        )

    lines = err.getvalue().splitlines()
    assert lines[0].startswith("providers[0].delivery_reports.credentials: the secret")
    assert lines[1].startswith("providers[1].senders[1].time_zone: ")
    assert not Provider.objects.exists()


def test_a_refused_provider_still_has_its_other_senders_checked(tmp_path) -> None:
    every_part()
    document = json.loads(export_text(Provider.objects.filter(nickname="Moe")))
    Provider.objects.all().delete()
    document["providers"][0]["senders"][1]["time_zone"] = "Mars/Olympus"
    file = tmp_path / "providers.json"
    file.write_text(json.dumps(document))
    err = io.StringIO()

    with pytest.raises(CommandError, match="2 problem"):
        call_command("import_providers", str(file), "--no-input", stderr=err)

    assert [line.partition(": ")[0] for line in err.getvalue().splitlines()] == [
        "providers[0].variables[1].value",
        "providers[0].senders[1].time_zone",
    ]


def test_import_of_a_missing_file_says_so(tmp_path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_providers", str(tmp_path / "none.json"))
