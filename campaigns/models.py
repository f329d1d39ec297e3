from __future__ import annotations

from django.db import models

from providers.models import Provider


class DeliveryReport(models.Model):
    """One callback as received, kept raw (capped) with what it did."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="delivery_reports"
    )
    received_at = models.DateTimeField("received", auto_now_add=True, db_index=True)
    method = models.CharField("method", max_length=8)
    content_type = models.CharField("content type", max_length=200, blank=True)
    body = models.TextField("body", blank=True, help_text="Capped at 16 KiB.")
    format = models.CharField("format", max_length=20, blank=True)
    response_status = models.PositiveSmallIntegerField("answered")
    processed = models.PositiveIntegerField("updates applied", default=0)
    unmatched_ids = models.JSONField(
        "unmatched ids",
        default=list,
        blank=True,
        help_text="Message ids this callback named that smsbridge does not know.",
    )
    result = models.CharField("result", max_length=500)

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.provider} {self.received_at:%Y-%m-%d %H:%M:%S}: {self.result}"

    @property
    def unmatched(self) -> bool:
        return bool(self.unmatched_ids)
