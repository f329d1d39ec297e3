"""Phone numbers: the country list of the send forms and E.164 parsing."""

from __future__ import annotations

from functools import cache

import phonenumbers
import pycountry
from django.core.exceptions import ValidationError


@cache
def country_choices() -> list[tuple[str, str]]:
    """(region, "Singapore (+65)") for every region, sorted by name."""
    choices = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        code = phonenumbers.country_code_for_region(region)
        choices.append((region, f"{country_name(region)} (+{code})"))
    return sorted(choices, key=lambda choice: choice[1])


def country_name(region: str) -> str:
    # ISO 3166 names from pycountry (a few MB), where phonenumbers' geocoder
    # would hold some 100 MB of place names in every web process for this list.
    country = pycountry.countries.get(alpha_2=region)
    if country is None:
        return NOT_IN_ISO_3166.get(region, region)
    return getattr(country, "common_name", None) or country.name


# Regions with a calling code of their own but no ISO 3166 country entry.
NOT_IN_ISO_3166 = {"AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo"}


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


def international(number: str, *, country: str = "") -> str:
    """An event's or opt-out's number in E.164.

    Without `country` the number must carry its country code (+6591234567): an
    API caller may serve many countries, so no default region is guessed.
    """
    number = number.strip()
    if country:
        if country.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(
                "“%(country)s” is not a country code; use a two-letter ISO code "
                "such as SG.",
                code="invalid_country",
                params={"country": country},
            )
        return to_e164(number, country.upper())
    if not number.startswith("+"):
        raise ValidationError(
            "“%(number)s” has no country code; write it in international format "
            "with a leading + (e.g. +6591234567).",
            code="no_country_code",
            params={"number": number},
        )
    return to_e164(number, region_of(number))


def region_of(number: str) -> str:
    # to_e164 names the region's calling code in its errors, so pass the region
    # the number itself claims rather than a placeholder.
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "ZZ"
    return phonenumbers.region_code_for_country_code(parsed.country_code)


def reported(number: str) -> str:
    """A number as a provider reports it (+6591234567, 6591234567 or
    006591234567), in E.164; "" when it is no valid number (a short code, a
    name). Providers write international numbers without their plus often
    enough that one is assumed."""
    digits = "".join(c for c in number if c.isdigit())
    if not number.strip().startswith("+"):
        digits = digits.removeprefix("00")
    if not 7 <= len(digits) <= 15:
        return ""
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
