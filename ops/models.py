"""What /healthz and /metrics read that no other table holds: when each worker
last said it was alive, and how long requests to providers took."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """When a Celery worker last said it was alive (ops/heartbeat.py)."""

    name = models.CharField(
        "worker", max_length=200, unique=True, help_text="Its node name (w1@host)."
    )
    seen_at = models.DateTimeField("last seen")

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class SendLatency(models.Model):
    """One bucket of a provider's send-latency histogram: how many requests took
    more than the next lower bound and at most `upper_ms`, and their total time
    (ops/latency.py)."""

    # Not a key to the provider: the histogram outlives a deleted one.
    provider_key = models.PositiveIntegerField("provider")
    upper_ms = models.PositiveIntegerField("at most (ms)")
    count = models.BigIntegerField("requests", default=0)
    total_ms = models.BigIntegerField("total (ms)", default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider_key", "upper_ms"], name="send_latency_bucket_unique"
            )
        ]

    def __str__(self) -> str:
        return f"provider {self.provider_key} <= {self.upper_ms} ms: {self.count}"
