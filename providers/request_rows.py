"""A provider's headers, URL parameters and variables: name/value rows of its
request, encrypted at rest."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from . import crypto
from .fields import EncryptedTextField


class KeyValueRow(models.Model):
    """A name/value pair of a provider; values are encrypted whether secret or not."""

    name = models.CharField("name", max_length=200)
    value = EncryptedTextField("value", blank=True)
    secret = models.BooleanField(
        "secret",
        default=False,
        help_text="Secret values are write-only and masked everywhere.",
    )
    position = models.PositiveSmallIntegerField("position", default=0)

    class Meta:
        abstract = True
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.name}: {self.display_value}"

    @property
    def display_value(self) -> str:
        return crypto.mask(self.value) if self.secret else self.value


class Header(KeyValueRow):
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.CASCADE, related_name="headers"
    )

    class Meta(KeyValueRow.Meta):
        constraints = [
            models.UniqueConstraint(
                "provider", Lower("name"), name="header_name_unique_per_provider"
            )
        ]


class UrlParameter(KeyValueRow):
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.CASCADE, related_name="url_parameters"
    )

    class Meta(KeyValueRow.Meta):
        verbose_name = "URL parameter"
        constraints = [
            models.UniqueConstraint(
                "provider", "name", name="url_parameter_name_unique_per_provider"
            )
        ]


class ProviderVariable(KeyValueRow):
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.CASCADE, related_name="variables"
    )

    class Meta(KeyValueRow.Meta):
        constraints = [
            models.UniqueConstraint(
                "provider", "name", name="variable_name_unique_per_provider"
            )
        ]


__all__ = ["Header", "ProviderVariable", "UrlParameter"]
