"""A 10,000-message campaign on a route whose first provider fails half-way.

The route has two providers made from the same preset, each its own fake
provider process (bench/fake_provider.py --record): 8x8's messages endpoint as
the MoEngage preset sets it up, one message a request, by default; with
--batch, 8x8's CleverTap batch endpoint, 1,000 records a request. One message a
request is the default because it is where failing over has the most to do: the
breaker has to open on requests in flight on SEND_CONCURRENCY threads, and each
of the 5,000 messages left moves on its own.

Timed, twice, each with fresh providers, route and campaign on the same database
(the floor first, so the failover run's table holds 10,000 more rows):
sending.launch with eager tasks, as one worker would, then process_chunk again
whenever a message is due (polled every POLL_SECONDS, as the countdown task the
app schedules for a retry would), until no message is queued or sending.

- floor: the first provider accepts every message;
- failover: the first provider answers 503 (no Retry-After) to every request
  after the first half of the campaign's, so the rest must move to the second.

The production defaults are kept: SEND_RETRY_BASE_SECONDS, the breaker's
threshold and cool-down, the route's attempts per provider. Both fakes record
the numbers they accepted and refused (the MoEngage body carries no message
id, and every number of the audience is distinct, so a number is a message).
Checked: lost (a message neither provider accepted), doubled (a number accepted
more than once, by both providers or twice by one; posts a provider refused with
its 503 are retries, not doubles), every row SENT through the provider that
accepted it, and the per-provider counters of campaigns.stats against what the
fakes saw. Target: at most 1.5x the floor, nothing lost, nothing doubled.

A warm-up campaign of WARM_UP messages runs first, untimed, so that neither run
pays for the process's first sends (a slower floor would flatter the ratio).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

from bench import common

MESSAGES = 10_000
TARGET = 1.5
POLL_SECONDS = 0.05
# A run still sending after this long has a message stuck (say, waiting out the
# breaker's cool-down): it is reported, not waited for.
GIVE_UP_SECONDS = 180
WARM_UP = 500
PRESETS = {False: "8x8-moengage", True: "8x8-clevertap"}


@dataclass
class Run:
    """One campaign through the route, and what the fakes say happened."""

    label: str
    seconds: float = 0.0
    launch_returned: float = 0.0  # when the eager launch had sent all it could
    first_failure: float | None = None  # when a failed answer was first recorded
    waiting: list[str] = field(default_factory=list)  # messages queued to retry
    providers: list[dict] = field(default_factory=list)  # campaign_stats' rows
    fakes: list[dict] = field(default_factory=list)  # per provider, what it saw
    rows: Counter = field(default_factory=Counter)  # by status, hop, attempts
    lost: int = 0
    doubled: int = 0
    problems: list[str] = field(default_factory=list)


def route_of(first_url: str, second_url: str, *, label: str, batch: bool):
    """A route of two providers made from the same preset, the first first."""
    from providers.routes import Route, RouteStep

    route = Route.objects.create(name=f"{label} route")
    for position, (url, which) in enumerate(
        ((first_url, "first"), (second_url, "second"))
    ):
        _, sender = common.make_provider(
            slug=PRESETS[batch],
            base_url=url,
            sender_type="transactional",
            nickname=f"{label} {which}",
        )
        RouteStep.objects.create(route=route, sender=sender, position=position)
    return route


class Marks:
    """When the product did the two things that make a failover slow: told the
    breaker of a failed answer, and queued messages to retry later (at the
    same provider, after SEND_RETRY_BASE_SECONDS and more) rather than hand
    them on. Noted by wrapping its functions, which keep doing what they do."""

    def __init__(self) -> None:
        from campaigns import recording
        from campaigns.models import Message
        from providers import health

        self.failures = common.mark_calls(health, "observe")
        self.retries: list[tuple[float, list]] = []  # (when, each one's due time)
        mark_failed = recording.mark_failed

        def noting(messages, outcome, **options):
            delays = mark_failed(messages, outcome, **options)
            if delays:  # some were queued again, to wait: which, until when
                due = Message.objects.filter(
                    pk__in=[m.pk for m in messages],
                    status=Message.Status.QUEUED,
                    next_attempt_at__isnull=False,
                ).values_list("next_attempt_at", flat=True)
                self.retries.append((time.perf_counter(), list(due)))
            return delays

        recording.mark_failed = noting


def send_to_end(campaign, run: Run, marks: Marks) -> None:
    """Launch and send until no message is queued or sending (module docstring);
    note when the launch returned, and what waited to be retried."""
    from django.utils import timezone

    from campaigns import sending
    from campaigns.models import Message

    Status = Message.Status
    pending = Message.objects.filter(
        campaign=campaign, status__in=[Status.QUEUED, Status.SENDING]
    )
    common.checkpoint()
    started_at, started = timezone.now(), time.perf_counter()
    sending.launch(campaign=campaign)
    run.launch_returned = time.perf_counter() - started
    while pending.exists():
        if time.perf_counter() - started > GIVE_UP_SECONDS:
            run.problems.append(
                f"{run.label}: {pending.count():,} messages still queued or sending "
                f"after {GIVE_UP_SECONDS} s"
            )
            break
        if not sending.process_chunk(campaign_id=campaign.pk):
            time.sleep(POLL_SECONDS)  # a retry's time has not come yet
    run.seconds = time.perf_counter() - started
    seen = [moment - started for moment in marks.failures if moment >= started]
    run.first_failure = seen[0] if seen else None
    retries = [(at - started, due) for at, due in marks.retries if at >= started]
    if retries:
        dues = [(d - started_at).total_seconds() for _, due in retries for d in due]
        run.waiting.append(
            f"{len(dues):,} messages queued to retry where they failed, "
            f"from {retries[0][0]:.2f} s to {retries[-1][0]:.2f} s, due from "
            f"{min(dues):.2f} s to {max(dues):.2f} s after launch"
        )


def check(run: Run, campaign, route, received: list[dict]) -> None:
    """Lost and doubled messages, by the fakes' records against the rows."""
    from campaigns import stats

    steps = list(route.steps.select_related("sender__provider").order_by("position"))
    accepted = Counter()
    for step, seen in zip(steps, received, strict=True):
        accepted.update(seen["accepted"])
        run.fakes.append(
            {
                "provider": str(step.sender.provider),
                "accepted": len(seen["accepted"]),
                "distinct": len(set(seen["accepted"])),
                "refused": len(seen["refused"]),
            }
        )
    rows = list(campaign.messages.values_list("to", "status", "sender_id"))
    numbers = {to for to, _, _ in rows}
    statuses = Counter(status for _, status, _ in rows)
    run.lost = sum(1 for to in numbers if not accepted[to])
    run.doubled = sum(n - 1 for n in accepted.values() if n > 1)
    both = set(received[0]["accepted"]) & set(received[1]["accepted"])
    if run.lost:
        run.problems.append(f"{run.label}: {run.lost:,} messages lost")
    if run.doubled:
        run.problems.append(
            f"{run.label}: {run.doubled:,} messages doubled "
            f"({len(both):,} accepted by both providers)"
        )
    if unknown := set(accepted) - numbers:
        run.problems.append(f"{run.label}: {len(unknown)} numbers not in the audience")
    if set(statuses) != {"sent"}:
        run.problems.append(f"{run.label}: rows {dict(statuses)}, not all sent")
    # Each row names the sender of the provider that accepted it.
    took = {
        step.sender_id: set(seen["accepted"])
        for step, seen in zip(steps, received, strict=True)
    }
    misplaced = sum(1 for to, _, sender in rows if to not in took.get(sender, ()))
    if misplaced:
        run.problems.append(
            f"{run.label}: {misplaced:,} rows name a provider that did not accept them"
        )
    run.providers = stats.campaign_stats(campaign)["providers"]
    # A provider that had no part in the campaign has no row there.
    counted = {row["provider"]: row["accepted"] for row in run.providers}
    for fake in run.fakes:
        if counted.get(fake["provider"], 0) != fake["distinct"]:
            run.problems.append(
                f"{run.label}: campaign_stats says {fake['provider']} accepted "
                f"{counted.get(fake['provider'], 0):,}, its fake {fake['distinct']:,}"
            )


def one_run(label: str, *, size: int, fail_after: int | None, batch: bool, marks):
    from campaigns.models import Message

    run = Run(label)
    with (
        common.fake_provider(fail_after=fail_after, record=True) as first,
        common.fake_provider(record=True) as second,
    ):
        route = route_of(first, second, label=label, batch=batch)
        campaign = common.make_campaign(
            size=size, route=route, sender_type="transactional"
        )
        send_to_end(campaign, run, marks)
        received = [common.received(first), common.received(second)]
    check(run, campaign, route, received)
    # The rows' own record of what moved, for the report.
    run.rows = Counter(
        f"{status} at hop {hop}, {attempts} attempts"
        for status, hop, attempts in Message.objects.filter(campaign=campaign)
        .values_list("status", "hop", "attempts")
        .order_by()
    )
    return run


def lines(run: Run) -> list[str]:
    found = [
        f"{run.label}: {run.seconds:.2f} s; the eager launch returned at "
        f"{run.launch_returned:.2f} s"
        + (
            f"; the first failed answer was recorded at {run.first_failure:.2f} s"
            if run.first_failure is not None
            else ""
        ),
    ]
    found += [f"  {line}" for line in run.waiting]
    found += [
        f"  fake {f['provider']}: accepted {f['accepted']:,} records "
        f"({f['distinct']:,} numbers), refused {f['refused']:,} with 503"
        for f in run.fakes
    ]
    found += [
        f"  campaign_stats {p['provider']}: accepted {p['accepted']:,}, failed "
        f"{p['failed']:,}, handed on {p['handed_on']:,}"
        for p in run.providers
    ]
    found += [f"  rows: {n:,} {what}" for what, n in sorted(run.rows.items())]
    found.append(f"  lost {run.lost:,}, doubled {run.doubled:,}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument(
        "--batch", action="store_true", help="the CleverTap batch preset instead"
    )
    parser.add_argument(
        "--fail-after",
        type=int,
        metavar="REQUESTS",
        help="requests the first provider answers before failing (default: half "
        "the campaign's)",
    )
    options = parser.parse_args(argv)
    common.configure()
    common.setup_django()
    from django.conf import settings

    from providers.presets import BY_SLUG
    from providers.routes import Route

    marks = Marks()
    preset = BY_SLUG[PRESETS[options.batch]].initial()
    per_request = preset["batch_size"] if preset["batch_enabled"] else 1
    half = options.fail_after
    if half is None:
        half = options.messages // 2 // per_request  # half the campaign's requests
    size, batch = options.messages, options.batch
    run = partial(one_run, batch=batch, marks=marks)
    warm = run("warm-up", size=WARM_UP, fail_after=None)
    floor = run("floor", size=size, fail_after=None)
    failover = run("failover", size=size, fail_after=half)
    kind = f"{per_request:,} per request" if batch else "one message per request"
    return common.finish(
        common.Result(
            bench="failover_batch" if batch else "failover",
            title=f"{size:,} messages on a route of two providers ({kind}), the "
            f"first failing (503) after {half:,} requests, launch to no message "
            "queued or sending",
            ours=failover.seconds,
            floor=floor.seconds,
            unit="s",
            target=TARGET,
            lower_is_better=True,
            details=[
                f"preset {PRESETS[batch]}, SEND_CONCURRENCY="
                f"{settings.SEND_CONCURRENCY}, SEND_RETRY_BASE_SECONDS="
                f"{settings.SEND_RETRY_BASE_SECONDS:g}, breaker after "
                f"{settings.PROVIDER_BREAKER_FAILURES} failures for "
                f"{settings.PROVIDER_BREAKER_COOLDOWN_SECONDS:g} s, "
                f"{Route._meta.get_field('attempts_per_provider').default} "
                "attempts per provider (the route's default)",
                *lines(floor),
                *lines(failover),
            ],
            problems=warm.problems + floor.problems + failover.problems,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
