"""Provider health: a circuit breaker shared by every worker, and a pause by hand.

After PROVIDER_BREAKER_FAILURES requests in a row fail in a way that is the
provider's fault (it is down, slow, refuses our credentials), the breaker opens:
routes skip the provider and a campaign sending through it alone waits, for
PROVIDER_BREAKER_COOLDOWN_SECONDS. Then one worker wins the probe and sends the
next request; an answer closes the breaker, a failure opens it again.

The state is a row per provider in the database, so it holds across worker
processes and machines with or without Redis; healthy sends never write it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, When
from django.utils import timezone

from .outbound.outcomes import Category

# Answers that say the provider, not the message, is the trouble. Not a failing
# token endpoint: its messages already wait without an attempt counted.
PROVIDER_FAULTS = frozenset(
    {
        Category.CONNECTION,
        Category.TIMEOUT,
        Category.DNS,
        Category.TLS,
        Category.SERVER_ERROR,
        Category.RATE_LIMITED,
        Category.AUTH,
        Category.NOT_FOUND,
        Category.REDIRECT,
        Category.BAD_RESPONSE,
    }
)


class ProviderHealth(models.Model):
    """How a provider has been answering, and whether it is to be used."""

    provider = models.OneToOneField(
        "providers.Provider",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="health",
    )
    failures_in_a_row = models.PositiveIntegerField("failures in a row", default=0)
    last_failure = models.CharField("last failure", max_length=500, blank=True)
    last_failure_at = models.DateTimeField("last failure at", null=True, blank=True)
    open_until = models.DateTimeField(
        "skipped until",
        null=True,
        blank=True,
        help_text="The breaker is open: the provider is skipped until then, then "
        "probed with one request.",
    )
    probe_until = models.DateTimeField("probe out until", null=True, blank=True)
    paused = models.BooleanField(
        "paused",
        default=False,
        help_text="Paused by hand: routes skip it, and campaigns sending through "
        "it alone wait, until it is resumed.",
    )
    paused_reason = models.CharField("why paused", max_length=200, blank=True)
    paused_at = models.DateTimeField("paused at", null=True, blank=True)

    class Meta:
        verbose_name = "provider health"
        verbose_name_plural = "provider health"
        permissions = [("pause_provider", "Can pause and resume a provider")]

    def __str__(self) -> str:
        return f"{self.provider_id}: {self.state(timezone.now()).label}"

    def state(self, now: datetime) -> State:
        if self.paused:
            return State(PAUSED, self.paused_reason or "Paused by an admin.")
        failures = self.failures_in_a_row
        if self.open_until is None:
            return State(HEALTHY, failures=failures) if failures else HEALTHY_STATE
        reason = f"{failures} failures in a row; {self.last_failure}"
        if now < self.open_until:
            return State(OPEN, reason, until=self.open_until, failures=failures)
        return State(PROBING, reason, failures=failures)


HEALTHY, PAUSED, OPEN, PROBING = "healthy", "paused", "open", "probing"
LABELS = {
    HEALTHY: "Healthy",
    PAUSED: "Paused",
    OPEN: "Skipped (breaker open)",
    PROBING: "Probing with the next request",
}


@dataclass(frozen=True)
class State:
    name: str
    reason: str = ""
    until: datetime | None = None
    failures: int = 0

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def usable(self) -> bool:
        """Messages may be sent to it without winning a probe."""
        return self.name == HEALTHY


HEALTHY_STATE = State(HEALTHY)


def states(provider_ids, *, now: datetime) -> dict[int, State]:
    """Each provider's state; healthy when it has no row."""
    found = dict.fromkeys(provider_ids, HEALTHY_STATE)
    for row in ProviderHealth.objects.filter(provider_id__in=list(found)):
        found[row.provider_id] = row.state(now)
    return found


def take_probe(provider_id: int, *, now: datetime) -> bool:
    """Whether this worker sends the probe of a provider whose cool-down is over:
    one worker at a time, the probe given up if its worker dies (claim timeout)."""
    lease = now + timedelta(seconds=settings.SEND_CLAIM_TIMEOUT)
    return bool(
        ProviderHealth.objects.filter(
            Q(probe_until__isnull=True) | Q(probe_until__lte=now),
            provider_id=provider_id,
            paused=False,
            open_until__lte=now,
        ).update(probe_until=lease)
    )


def observe(
    provider_id: int,
    *,
    failed: int,
    succeeded: bool,
    reason: str,
    now: datetime | None = None,
) -> None:
    """What the provider's requests just did: `succeeded` if any request was
    answered and accepted, else `failed` requests that were its fault."""
    now = now or timezone.now()
    if succeeded:
        # Only a provider that was failing has anything to forget.
        ProviderHealth.objects.filter(provider_id=provider_id).filter(
            Q(failures_in_a_row__gt=0) | Q(open_until__isnull=False)
        ).update(failures_in_a_row=0, open_until=None, probe_until=None)
        return
    if not failed:
        return
    ProviderHealth.objects.get_or_create(provider_id=provider_id)
    threshold = settings.PROVIDER_BREAKER_FAILURES
    cooldown = timedelta(seconds=settings.PROVIDER_BREAKER_COOLDOWN_SECONDS)
    reaches = Q(failures_in_a_row__gte=threshold - failed)
    # Opened when the count reaches the threshold, or again when a probe
    # fails (the cool-down over); left as it is while it is open.
    ProviderHealth.objects.filter(provider_id=provider_id).update(
        failures_in_a_row=F("failures_in_a_row") + failed,
        last_failure=reason[:500],
        last_failure_at=now,
        probe_until=None,
        open_until=Case(
            When(
                reaches & (Q(open_until__isnull=True) | Q(open_until__lte=now)),
                then=now + cooldown,
            ),
            default=F("open_until"),
        ),
    )


class Watch:
    """Tells the breaker what one provider's requests do, writing only when
    that changes something: a healthy provider's answers cost no query."""

    def __init__(self, provider_id: int, state: State) -> None:
        self.provider_id = provider_id
        self.failing = bool(state.failures) or state.name != HEALTHY
        # Set once the provider's breaker is open: the rest of the claim is
        # not to be sent to it.
        self.tripped: State | None = None
        # Set when an answer closed the breaker (a probe that went through).
        self.recovered = False
        self.stop = threading.Event()

    def saw(self, requests) -> None:
        """`requests`: each request's outcomes, as they returned."""
        failed, succeeded, reason = 0, False, ""
        for outcomes in requests:
            accepted, fault, why = verdict(outcomes)
            succeeded = succeeded or accepted
            if fault:
                failed, reason = failed + 1, why
        if succeeded and not self.failing:
            return
        if succeeded or failed:
            # Timed when the answers came back, not when the claim began.
            observe(self.provider_id, failed=failed, succeeded=succeeded, reason=reason)
            self.recovered = self.recovered or succeeded
            self.failing = not succeeded
        if failed and not succeeded:
            state = states([self.provider_id], now=timezone.now())[self.provider_id]
            if state.name == OPEN:
                self.tripped = state
                self.stop.set()


def verdict(outcomes) -> tuple[bool, bool, str]:
    """(accepted, provider's fault, reason) of one request's outcomes."""
    if any(o.accepted for o in outcomes):
        return True, False, ""
    faults = [o for o in outcomes if o.category in PROVIDER_FAULTS]
    if faults and len(faults) == len(outcomes):
        first = faults[0]
        return False, True, f"{Category(first.category).label}: {first.diagnosis}"
    return False, False, ""


def pause(provider_id: int, *, reason: str) -> None:
    ProviderHealth.objects.update_or_create(
        provider_id=provider_id,
        defaults={
            "paused": True,
            "paused_reason": reason[:200],
            "paused_at": timezone.now(),
        },
    )


def resume(provider_id: int) -> None:
    """Back in use at once, its failure count forgotten."""
    ProviderHealth.objects.filter(provider_id=provider_id).update(
        paused=False,
        paused_reason="",
        paused_at=None,
        failures_in_a_row=0,
        open_until=None,
        probe_until=None,
    )
