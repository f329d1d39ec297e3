"""Routes: an ordered list of senders (each of one provider), per destination
country with a default, that campaigns and event sends can use instead of one
sender. A message starts with the first provider its number's country lists and
moves to the next when the first fails in a way another provider may not
(campaigns/fallback.py); which failures those are is the route's to say.

A number's providers are the steps for its country (by region, "IN", or by
calling code, "+1") in order, then the route's default steps (no country), each
sender once: the cheapest provider per country first, the general ones after.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from .outbound.outcomes import Category
from .phones import country_name

# What moves a message to the route's next provider unless the route says
# otherwise: the provider could not take it, not that the message is wrong.
DEFAULT_FALLBACK = [
    Category.CONNECTION.value,
    Category.TIMEOUT.value,
    Category.DNS.value,
    Category.TLS.value,
    Category.SERVER_ERROR.value,
    Category.AUTH.value,
    Category.TOKEN.value,
    Category.REJECTED.value,
]
# What a route may fall back on. Never a refusal of the message itself (invalid
# input, a DLT block) or anything a delivery report said: another provider
# would meet the same refusal, or the recipient could get the text twice.
FALLBACK_CHOICES = [
    (Category.CONNECTION.value, "Connection failed"),
    (Category.TIMEOUT.value, "Timed out (no connection)"),
    (Category.DNS.value, "Host not found"),
    (Category.TLS.value, "TLS failed"),
    (Category.SERVER_ERROR.value, "Provider server error (5xx)"),
    (Category.RATE_LIMITED.value, "Rate limited (429)"),
    (Category.AUTH.value, "Authentication failed (401, 403)"),
    (Category.TOKEN.value, "Token endpoint failed"),
    (Category.NOT_FOUND.value, "Endpoint not found (404)"),
    (Category.BAD_RESPONSE.value, "Unreadable answer"),
    (
        Category.REJECTED.value,
        "Refused with a code the provider marks as its own (no credit, "
        "no route to the country, sender not registered)",
    ),
]
# Kept at one provider whatever the route says, until its retries run out.
RETRIED_FIRST = {
    Category.CONNECTION.value,
    Category.TIMEOUT.value,
    Category.DNS.value,
    Category.SERVER_ERROR.value,
    Category.RATE_LIMITED.value,
}
# Refusals of a message, which move only with a code the provider marks as its own.
REFUSALS = (Category.REJECTED.value, Category.BAD_REQUEST.value)
COUNTRY = re.compile(r"^(?:[A-Z]{2}|\+[1-9][0-9]{0,2})$")


def default_fallback() -> list[str]:
    return list(DEFAULT_FALLBACK)


def validate_fallback(value) -> None:
    known = {choice for choice, _ in FALLBACK_CHOICES}
    if not isinstance(value, list) or not set(value) <= known:
        raise ValidationError(
            "Choose outcomes from the list.", code="invalid_fallback", params={}
        )


def parse_countries(text: str) -> tuple[str, ...]:
    """ "IN, +1 sg" -> ("IN", "+1", "SG"); ValidationError names what is wrong."""
    found = []
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        token = part.upper()
        if not COUNTRY.match(token):
            raise ValidationError(
                "“%(part)s” is neither a country (two letters, as IN) nor a "
                "calling code (as +91).",
                code="invalid_country",
                params={"part": part},
            )
        if token.startswith("+"):
            if not phonenumbers.region_codes_for_country_code(int(token[1:])):
                raise ValidationError(
                    "%(part)s is not a country calling code.",
                    code="invalid_country",
                    params={"part": part},
                )
        elif token not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(
                "“%(part)s” is not a country code phonenumbers knows (ISO 3166, "
                "as IN or SG).",
                code="invalid_country",
                params={"part": part},
            )
        if token not in found:
            found.append(token)
    return tuple(found)


def validate_countries(text: str) -> None:
    parse_countries(text)


def destination(number: str) -> tuple[str, str]:
    """(region, "+calling code") of an E.164 number; ("", "") if unparseable.

    Looked up per message at launch, so a calling code only one region uses
    (+91, +65) is read off the digits; the few that several regions share (+1,
    +7, +44) are parsed, cached by number."""
    if number.startswith("+"):
        for length in (1, 2, 3):
            code = number[1 : 1 + length]
            regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code or 0))
            if regions:
                if len(regions) == 1:
                    return regions[0], f"+{code}"
                break
    return parsed_destination(number)


@lru_cache(maxsize=65536)
def parsed_destination(number: str) -> tuple[str, str]:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "", ""
    # A number no region claims (unassigned, or a range kept for fiction) goes
    # by its calling code's main region, as +44 by GB.
    region = phonenumbers.region_code_for_number(
        parsed
    ) or phonenumbers.region_code_for_country_code(parsed.country_code)
    return ("" if region == UNKNOWN_REGION else region), f"+{parsed.country_code}"


UNKNOWN_REGION = "ZZ"


class Route(models.Model):
    """Providers to try in turn, per country, as one choice for a campaign."""

    name = models.CharField(
        "name", max_length=100, help_text="For example: India via Exotel, else 8x8."
    )
    fallback_on = models.JSONField(
        "move to the next provider on",
        default=default_fallback,
        blank=True,
        validators=[validate_fallback],
        help_text="Outcomes that hand a message to the next provider with the "
        "same message id. Connection failures, time-outs and server errors are "
        "retried at the same provider first. A request that may have reached the "
        "provider (its answer timed out or was cut off) is retried there and never "
        "moved: the recipient could get the text twice.",
    )
    attempts_per_provider = models.PositiveSmallIntegerField(
        "attempts per provider",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="How often a provider is tried for a message before the next "
        "one; a provider whose breaker is open is skipped at once.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="route_name_unique_ci",
                violation_error_message="A route with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:providers_route_change", args=[self.pk])

    def plan(self) -> Plan:
        """The route's steps, read once, to pick senders for many numbers."""
        steps = self.steps.select_related("sender__provider").order_by("position", "pk")
        return Plan(self, list(steps))


class RouteStep(models.Model):
    """One provider (through one of its senders) on a route."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField("order", default=0)
    sender = models.ForeignKey(
        "providers.Sender",
        on_delete=models.PROTECT,
        related_name="route_steps",
        help_text="The provider and the sender ID it sends as.",
    )
    countries = models.CharField(
        "countries",
        max_length=200,
        blank=True,
        validators=[validate_countries],
        help_text="Destinations this step is for, as IN, SG or +1; empty for every "
        "country (the route's default).",
    )

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = "provider on the route"
        verbose_name_plural = "providers on the route"

    def __str__(self) -> str:
        where = self.countries or "every country"
        return f"{self.sender.provider} ({where})"

    @property
    def country_set(self) -> tuple[str, ...]:
        return parse_countries(self.countries)


class Plan:
    """A route's steps in memory: which senders a number goes through, in order."""

    def __init__(self, route: Route, steps: list[RouteStep]) -> None:
        self.route = route
        self.fallback_on = set(route.fallback_on)
        self.attempts_per_provider = route.attempts_per_provider
        self.by_country: dict[str, list] = {}
        self.default: list = []
        for step in steps:
            countries = step.country_set
            if not countries:
                self.default.append(step.sender)
            for country in countries:
                self.by_country.setdefault(country, []).append(step.sender)
        self.senders = {step.sender.pk: step.sender for step in steps}
        self.per_country = bool(self.by_country)
        self._chains: dict[tuple[str, str], list] = {}

    @property
    def lead(self):
        """The sender whose provider sets a route campaign's batch size, rate
        and quiet hours: its first default, else its first step."""
        listed = self.default or list(self.senders.values())
        return listed[0] if listed else None

    def chain(self, number: str) -> list:
        """The senders `number` is tried through, in order."""
        where = destination(number) if self.per_country else ("", "")
        found = self._chains.get(where)
        if found is None:
            region, code = where
            listed = [
                *self.by_country.get(region, ()),
                *self.by_country.get(code, ()),
                *self.default,
            ]
            seen: set[int] = set()
            found = [s for s in listed if not (s.pk in seen or seen.add(s.pk))]
            self._chains[where] = found
        return found

    def why(self, number: str) -> str:
        """In words, why `number` takes the chain it does."""
        region, code = destination(number)
        where = f"{country_name(region)} ({region}, {code})" if region else code
        if region in self.by_country or code in self.by_country:
            listed = region if region in self.by_country else code
            return (
                f"{number} is a number in {where}: the route's providers for "
                f"{listed} first, then its default ones."
            )
        return (
            f"No provider of the route names {where or 'its country'}: its "
            "default providers."
        )

    def moves_on(self, outcome, provider) -> bool:
        """Whether a failed outcome at `provider` hands a message to the next
        provider. Never one the provider may have (its answer timed out or was
        cut off): the recipient could get the text twice."""
        if outcome.unanswered:
            return False
        if outcome.category in REFUSALS:
            # Only a refusal whose code the provider marks as its own.
            return (
                Category.REJECTED in self.fallback_on
                and provider.refused_for_itself(outcome)
            )
        return outcome.category in self.fallback_on

    def next_hop(self, number: str, hop: int):
        """(index, sender) after `hop` in the number's chain, or None."""
        chain = self.chain(number)
        if hop + 1 < len(chain):
            return hop + 1, chain[hop + 1]
        return None
