"""Testing a route with one number: which provider a message to it would use
and why, then a real test send through the route as a campaign would send, moving
on to the next provider on the failures the route falls back on. A forced
fallback skips the first provider, to prove the second works before it is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from . import health
from .models import Sender, TestSend
from .routes import Plan, destination
from .send_test_sms import send_test_sms


@dataclass
class Hop:
    """One provider of a number's chain, as the route stands now."""

    position: int
    sender: Sender
    state: health.State
    note: str = ""
    test: TestSend | None = None

    @property
    def usable(self) -> bool:
        # A provider due a probe may take a staff member's test.
        return self.sender.provider.is_active and self.state.name in (
            health.HEALTHY,
            health.PROBING,
        )

    @property
    def state_label(self) -> str:
        if not self.sender.provider.is_active:
            return "Archived"
        return self.state.label


@dataclass
class RouteTest:
    number: str
    why: str
    hops: list[Hop]
    attempts: list[TestSend] = field(default_factory=list)

    @property
    def chosen(self) -> Hop | None:
        """The provider a message to the number would go to first, now."""
        return next((hop for hop in self.hops if hop.usable), None)

    @property
    def accepted_by(self) -> Hop | None:
        return next((h for h in self.hops if h.test and h.test.succeeded), None)

    @property
    def country(self) -> str:
        region, code = destination(self.number)
        return region or code


def explain(plan: Plan, number: str, *, now: datetime) -> RouteTest:
    chain = plan.chain(number)
    states = health.states({s.provider_id for s in chain}, now=now)
    hops = [
        Hop(position, sender, states[sender.provider_id])
        for position, sender in enumerate(chain, start=1)
    ]
    for hop in hops:
        if not hop.usable:
            hop.note = skipped_because(hop)
    return RouteTest(number, plan.why(number), hops)


def skipped_because(hop: Hop) -> str:
    if not hop.sender.provider.is_active:
        return "Skipped: the provider is archived."
    state = hop.state
    if state.name == health.PAUSED:
        return f"Skipped: paused. {state.reason}"
    until = f" until {state.until:%H:%M:%S} UTC" if state.until else ""
    return f"Skipped{until}: its breaker is open ({state.reason})."


def run(
    plan: Plan,
    *,
    to: str,
    text: str,
    now: datetime,
    user=None,
    force_fallback: bool = False,
    placeholders: Mapping[str, str] | None = None,
) -> RouteTest:
    """Send one test message through the route; each attempt is a TestSend."""
    result = explain(plan, to, now=now)
    forced = force_fallback
    for hop in result.hops:
        if not hop.usable:
            continue
        if forced:
            hop.note = "Skipped: fallback forced, to test the next provider."
            forced = False
            continue
        hop.test = send_test_sms(
            provider=hop.sender.provider,
            sender=hop.sender,
            to=to,
            text=text,
            user=user,
            placeholders=placeholders,
        )
        result.attempts.append(hop.test)
        if hop.test.succeeded:
            hop.note = "Accepted."
            break
        if not plan.moves_on(hop.test.outcome, hop.sender.provider):
            hop.note = (
                "Failed in a way the route does not move on from (the message "
                "itself was refused, or the provider may have it)."
            )
            break
        hop.note = "Failed; the route moves on to the next provider."
    return result
