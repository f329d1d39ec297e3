"""Phone numbers: the country list of the send forms and E.164 parsing."""

from __future__ import annotations

from functools import cache

import phonenumbers
from django.core.exceptions import ValidationError
from phonenumbers import geocoder


@cache
def country_choices() -> list[tuple[str, str]]:
    """(region, "Singapore (+65)") for every region, sorted by name."""
    choices = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        name = geocoder.country_name_for_number(example, "en") if example else ""
        code = phonenumbers.country_code_for_region(region)
        choices.append((region, f"{name or region} (+{code})"))
    return sorted(choices, key=lambda choice: choice[1])


def to_e164(number: str, region: str) -> str:
    """A number typed for a country, in E.164; errors say what is wrong."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as err:
        raise ValidationError(
            "“%(number)s” is not a phone number: %(reason)s",
            code="invalid_number",
            params={"number": number, "reason": str(err).split(") ", 1)[-1]},
        ) from err
    if not phonenumbers.is_valid_number(parsed):
        code = phonenumbers.country_code_for_region(region)
        raise ValidationError(
            "%(number)s is not a valid mobile number for +%(code)s; check the digits "
            "and the country code.",
            code="invalid_number",
            params={"number": number, "code": code},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
