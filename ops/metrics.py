"""/metrics in Prometheus' text format, computed from the database at each
scrape, so every web process answers the same whatever process did the work.

Messages by provider and state come from the campaigns' counters
(campaigns/counts.py: a provider's row per state it decided; queued is what
the totals hold beyond every counted state and the rows out for sending), the
send latency from its histogram table (ops/latency.py), the rest from a few
indexed queries and the broker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from django.db.models import Count, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from campaigns import counts
from campaigns.models import Message, MessageCount
from providers.models import Provider, Sender, TestSend

from . import broker, health, latency

Status = Message.Status


class Smsbridge(Collector):
    def collect(self) -> Iterator[Metric]:
        names = provider_names()
        yield messages(names)
        yield send_latency(names)
        yield test_sends(names)
        yield from backlog()


def registry() -> CollectorRegistry:
    # Not prometheus_client's default registry: its process metrics would
    # describe whichever web process answered the scrape.
    found = CollectorRegistry(auto_describe=False)
    found.register(Smsbridge())
    return found


def provider_names() -> dict[int, str]:
    return dict(Provider.objects.values_list("pk", "nickname"))


def named(names: dict[int, str], provider_id: int | None) -> str:
    if provider_id is None:
        return ""
    return names.get(provider_id, f"deleted provider {provider_id}")


def messages(names: dict[int, str]) -> Metric:
    family = GaugeMetricFamily(
        "smsbridge_messages",
        "Campaign messages by the provider that decided their state (none for "
        "queued, sending, cancelled and opted-out), state and failure category. "
        "Purged messages still count.",
        labels=["provider", "state", "failure"],
    )
    providers = dict(Sender.objects.values_list("pk", "provider_id"))
    found: Counter[tuple[str, str, str]] = Counter()
    created = 0
    rows = MessageCount.objects.values_list("sender_key", "status", "failure_category")
    for sender_key, status, failure, n in rows.annotate(n=Sum("count")).order_by():
        if status == counts.TOTAL:
            created += n
        elif status != counts.HANDED_ON:
            provider = providers.get(sender_key) if sender_key else None
            found[named(names, provider), status, failure] += n
    sending = Message.objects.filter(status=Status.SENDING).count()
    found["", Status.SENDING, ""] += sending
    found["", Status.QUEUED, ""] += created - sum(found.values())
    for labels, n in sorted(found.items()):
        family.add_metric(list(labels), n)
    return family


def send_latency(names: dict[int, str]) -> Metric:
    family = HistogramMetricFamily(
        "smsbridge_send_latency_seconds",
        "Time from sending a request to a provider to reading its answer, "
        "campaigns and events.",
        labels=["provider"],
    )
    for provider_id, rows in sorted(latency.histograms().items()):
        cumulative, total_ms, buckets = 0, 0, []
        for upper, count, spent in rows:
            cumulative += count
            total_ms += spent
            bound = "+Inf" if upper == latency.SLOWER else f"{upper / 1000:g}"
            buckets.append((bound, cumulative))
        if buckets[-1][0] != "+Inf":
            buckets.append(("+Inf", cumulative))
        family.add_metric(
            [named(names, provider_id)], buckets, sum_value=total_ms / 1000
        )
    return family


def test_sends(names: dict[int, str]) -> Metric:
    family = GaugeMetricFamily(
        "smsbridge_test_sends",
        "Send Test SMS attempts kept (until purged), by provider and result.",
        labels=["provider", "result"],
    )
    rows = TestSend.objects.values_list("provider_id", "category")
    for provider_id, category, n in rows.annotate(n=Count("pk")).order_by():
        family.add_metric([named(names, provider_id), category], n)
    return family


def backlog() -> Iterator[Metric]:
    now = timezone.now()
    reports = health.delivery_reports(now)
    yield GaugeMetricFamily(
        "smsbridge_delivery_reports_waiting",
        "Delivery reports stored and waiting for a worker to apply them.",
        value=reports["waiting"],
    )
    yield GaugeMetricFamily(
        "smsbridge_delivery_reports_oldest_waiting_seconds",
        "How long the oldest waiting delivery report has waited (0: none waits).",
        value=reports["oldest_s"],
    )
    latest = health.heartbeat.freshest()
    if latest is not None:
        yield GaugeMetricFamily(
            "smsbridge_worker_heartbeat_age_seconds",
            "Seconds since the freshest Celery worker heartbeat.",
            value=max(0.0, (now - latest.seen_at).total_seconds()),
        )
    try:
        tasks = broker.queued_tasks()
    except Exception:  # noqa: BLE001 - the broker's state is /healthz's to report
        tasks = None
    if tasks is not None:
        yield GaugeMetricFamily(
            "smsbridge_task_queue_length",
            "Celery tasks waiting in the broker's queue (Redis, filesystem).",
            value=tasks,
        )
