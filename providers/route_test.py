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
    def kind(self) -> str:
        """How the result table marks the hop: accepted, failed or skipped."""
        if self.test is not None:
            return "accepted" if self.test.succeeded else "failed"
        return "skipped" if self.note else ""

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
    # Of a test sent: the sender a forced fallback skipped, and whether the
    # route stopped at a failure it does not move on from.
    forced: int | None = None
    stopped: bool = False

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

    @property
    def tone(self) -> str:
        """accepted or failed for a test sent, else shown, or failed when no
        provider of the route can take the number now."""
        if self.attempts:
            return "accepted" if self.accepted_by else "failed"
        return "shown" if self.chosen else "failed"

    @property
    def headline(self) -> str:
        if not self.attempts:
            if self.chosen is None:
                return (
                    f"No provider of the route can take a message to {self.number} now."
                )
            sender = self.chosen.sender
            return (
                f"A message to {self.number} would go to {sender.provider} "
                f"({sender.name})."
            )
        accepted = self.accepted_by
        if accepted is None:
            return "No provider of the route accepted the test."
        after = ["a forced fallback"] if self.forced else []
        if failed := len(self.attempts) - 1:
            more = "more " if self.forced else ""
            after.append(f"{failed} {more}fallback{'' if failed == 1 else 's'}")
        return f"Accepted by {accepted.sender.provider}" + (
            f" after {' and '.join(after)}." if after else "."
        )

    def query(self) -> dict[str, str]:
        """What the result page needs to show this test again (never to send)."""
        found = {"tests": ",".join(str(test.pk) for test in self.attempts)}
        if self.forced:
            found["forced"] = str(self.forced)
        if self.stopped:
            found["stopped"] = "1"
        return found


class CannotForce(Exception):
    """A forced fallback with no provider after the first to fall back to."""


ACCEPTED = "Accepted."
FORCED = "Skipped: fallback forced, to test the next provider."
MOVED_ON = "Failed; the route moved on to the next provider."
STOPPED = (
    "Failed in a way the route does not move on from (the message itself was "
    "refused, or the provider may have it)."
)
LAST = "Failed, and the route has no provider after it."


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
    usable = [hop for hop in result.hops if hop.usable]
    if force_fallback:
        if not usable:
            raise CannotForce(
                f"No provider of the route can take a message to {to} now: "
                "nothing was sent."
            )
        if len(usable) == 1:
            raise CannotForce(
                f"The route has no provider after {usable[0].sender.provider} "
                f"for {to} to fall back to: nothing was sent."
            )
        result.forced = usable.pop(0).sender.pk
    for hop in usable:
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
            break
        if not plan.moves_on(hop.test.outcome, hop.sender.provider):
            result.stopped = True
            break
    annotate(result)
    return result


def shown(result: RouteTest, query: Mapping[str, str]) -> RouteTest:
    """Put the test sends of an earlier run (`query`, from RouteTest.query)
    back on the hops they went to, as the run left them."""
    listed = query.get("tests", "")
    ids = [int(part) for part in listed.split(",") if part.isdigit()][:20]
    tests = TestSend.objects.filter(pk__in=ids, to=result.number)
    by_sender = {test.sender_id: test for test in tests}
    for hop in result.hops:
        hop.test = by_sender.get(hop.sender.pk)
        if hop.test is not None:
            result.attempts.append(hop.test)
    if result.attempts:
        forced = query.get("forced", "")
        result.forced = int(forced) if forced.isdigit() else None
        result.stopped = query.get("stopped") == "1"
        annotate(result)
    return result


def annotate(result: RouteTest) -> None:
    """What happened at each hop of a test sent through the route."""
    last = result.attempts[-1] if result.attempts else None
    for hop in result.hops:
        if hop.test is None:
            if hop.sender.pk == result.forced:
                hop.note = FORCED
        elif hop.test.succeeded:
            hop.note = ACCEPTED
        elif hop.test is not last:
            hop.note = MOVED_ON
        else:
            hop.note = STOPPED if result.stopped else LAST
