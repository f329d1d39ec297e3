"""The delivery workflow: launch, claim a chunk, send it, record what happened.

Work is claimed with a conditional UPDATE whose row count is trusted, so two
workers never send one message; on PostgreSQL the rows are picked with
FOR UPDATE SKIP LOCKED, so concurrent claims never wait on each other. Each answer
is recorded as it returns. A working task renews its claim's lease; rows whose
lease ran out (their worker died) are reclaimed by the sweeper and sent again
with the same message ids, their cut-off attempt not counted.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from operator import attrgetter

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from config.logs import bound
from ops import latency
from providers import health
from providers.forms.placeholder_values import described
from providers.message_templates import Mismatch
from providers.models import Sender
from providers.outbound.pipeline import Message as Outgoing
from providers.outbound.pipeline import Outbound, Outcome
from providers.routes import Plan
from providers.validators import validate_segment_count

from . import counts, fallback, placeholders, tasks, throttle
from .bulk import insert_rows
from .inflight import as_they_return
from .models import Campaign, Message, OptOut
from .personalise import fields_in, missing_fields, personalise
from .recording import Claimed, record
from .senders import Senders

Status = Message.Status
logger = logging.getLogger(__name__)


class LaunchError(Exception):
    """Why a campaign cannot be launched, in words for the admin."""


# --- launching ------------------------------------------------------------------------


def check_launchable(campaign: Campaign) -> None:
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise LaunchError(
            f"“{campaign}” is {campaign.get_status_display().lower()}; "
            "only a draft or scheduled campaign can be launched."
        )
    senders = Senders(campaign)
    problem = senders.problem()
    if problem:
        raise LaunchError(problem)
    needs = senders.needs()
    # An event campaign's messages may take theirs from each event's properties.
    columns: set[str] = set(needs.per_message)
    if campaign.kind == Campaign.Kind.ONE_TIME:
        if not campaign.audience.exists():
            raise LaunchError("The audience is empty; upload a CSV or paste numbers.")
        first = campaign.audience.first()  # every member has the same columns
        columns = set(first.fields)
        missing = missing_fields(campaign.message, columns)
        if missing:
            raise LaunchError(
                "The message uses "
                + ", ".join(f"$${m}" for m in missing)
                + " but the audience has no such column."
            )
    problem = senders.template_problem()
    if problem:
        raise LaunchError(problem)
    if campaign.template and campaign.kind == Campaign.Kind.ONE_TIME:
        # The first text now, so the confirmation says it; every text at launch.
        text = personalise(campaign.message, to=first.to, fields=first.fields)
        checked_template(campaign.template, senders.lead.provider, first.to, text)
    unfilled = placeholders.missing(
        needs, given=campaign.placeholder_values, columns=columns
    )
    if unfilled:
        names = described(unfilled)
        whose = campaign.route or senders.lead.provider
        raise LaunchError(
            f"The request of {whose} uses {names}, "
            "which has no value: give it under Provider placeholders"
            + (" or as an audience column." if needs.per_message else ".")
        )


def launch(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Queue every message of a campaign; return how many were queued."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        check_launchable(campaign)
        # The sender is fixed at launch: changing the default later must not
        # move a running campaign to another provider. A route is followed as
        # it stands when each message is sent.
        if not campaign.route_id:
            campaign.sender = campaign.resolved_sender()
        campaign.launch_problem = ""
        campaign.save(update_fields=["sender", "launch_problem"])
        if campaign.scheduled_at and campaign.scheduled_at > now:
            campaign.status = Campaign.Status.SCHEDULED
            campaign.save(update_fields=["status"])
            transaction.on_commit(
                lambda: tasks.publish(
                    tasks.start_campaign, campaign.pk, eta=campaign.scheduled_at
                )
            )
            return 0
        queued = create_messages(campaign)
        campaign.status = Campaign.Status.SENDING
        campaign.launched_at = now
        campaign.save(update_fields=["status", "launched_at"])
        transaction.on_commit(lambda: enqueue(campaign.pk, queued))
    return queued


def create_messages(campaign: Campaign) -> int:
    """Write one queued message per audience member; return how many are queued."""
    senders = Senders(campaign)
    skip = opted_out(campaign, senders)
    needs = senders.needs()
    prepare = Message._meta.get_field("placeholders").get_db_prep_save
    given, template = campaign.placeholder_values, campaign.template
    kept = bool(needs.names or template)
    routed = senders.plan is not None
    provider = senders.lead.provider

    def row(to: str, body: str, fields: dict) -> tuple:
        status = SKIPPED_ROW if to in skip else QUEUED_ROW
        first = ()
        if routed:
            # Each number starts with the first provider its country lists.
            sender, _ = senders.first(to)
            if sender is None:
                raise LaunchError(senders.unroutable(to))
            first = (sender.pk,)
        if not kept:
            return (uuid.uuid4().hex, to, body, *status, *first)
        values = placeholders.values_for(needs, given=given, fields=fields)
        if template:
            values |= checked_template(template, provider, to, body)
        return (
            uuid.uuid4().hex,
            to,
            body,
            *status,
            *first,
            prepare(values, connection),
        )

    columns = ["message_id", "to", "body", "status", "failure_category"]
    columns += ["failure_reason", *(["sender_id"] if routed else [])]
    columns += ["placeholders"] if kept else []
    constants = {"campaign_id": campaign.pk}
    if not routed:
        constants["sender_id"] = senders.single.pk
    texts = message_texts(campaign, with_fields=bool(needs.per_message))
    created = insert_rows(
        Message,
        columns=columns,
        rows=(row(*text) for text in texts),
        constants=constants,
    )
    skipped = counts.key(Status.SKIPPED, "opted_out")
    counts.add(campaign.pk, {(counts.TOTAL, ""): created, skipped: len(skip)})
    if connection.vendor == "postgresql" and created >= ANALYZE_AFTER:
        # So the claims' plans know the new rows now, not when autovacuum
        # gets round to it (a claim planned on stale counts scans the table).
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Message._meta.db_table}")
    return created - len(skip)


ANALYZE_AFTER = 10_000


QUEUED_ROW = (Status.QUEUED, "", "")
SKIPPED_ROW = (Status.SKIPPED, "opted_out", "The number is on the opt-out list.")
CREATE_BATCH = 5000


def message_texts(
    campaign: Campaign, *, with_fields: bool = False
) -> Iterator[tuple[str, str, dict]]:
    """(number, text, columns) for each audience member; columns are read only
    if the text or `with_fields` needs them."""
    audience = campaign.audience.order_by("pk")
    template = campaign.message
    personalised = bool(fields_in(template)) or "$$To" in template
    if not personalised and not with_fields:
        for to in audience.values_list("to", flat=True).iterator(
            chunk_size=CREATE_BATCH
        ):
            yield to, template, NO_COLUMNS
        return
    rows = audience.values_list("to", "fields").iterator(chunk_size=CREATE_BATCH)
    # Closed at once when a text is refused, not whenever the generator is freed.
    with closing(rows):
        for to, fields in rows:
            if not personalised:
                yield to, template, fields
                continue
            text = personalise(template, to=to, fields=fields)
            yield to, within_limit(to, text), fields


NO_COLUMNS: dict = {}


def checked_template(template, provider, to: str, text: str) -> dict[str, str]:
    # Every text follows its DLT template, or the launch is rolled back whole.
    try:
        return placeholders.template_values(template, provider, text)
    except Mismatch as err:
        raise LaunchError(f"The message to {to}: {err}") from err


def within_limit(to: str, text: str) -> str:
    # The campaign form refuses these at upload; this holds for a limit lowered
    # since, and rolls the whole launch back rather than send a part.
    try:
        validate_segment_count(text)
    except ValidationError as err:
        reason = err.messages[0]
        raise LaunchError(f"The message to {to}, once personalised: {reason}") from err
    return text


def opted_out(campaign: Campaign, senders: Senders) -> set[str]:
    """Numbers a promotional campaign must skip; transactional ones skip none."""
    if not senders.honours_opt_outs:
        return set()
    numbers = campaign.audience.values_list("to", flat=True)
    return set(
        OptOut.objects.filter(to__in=Subquery(numbers)).values_list("to", flat=True)
    )


def chunk_size(campaign: Campaign) -> int:
    provider = campaign.resolved_sender().provider
    if provider.batch_enabled:
        # A few batches a claim, so recording one overlaps sending the next.
        size = provider.batch_size * BATCHES_PER_CLAIM
    else:
        size = settings.SEND_CHUNK_SIZE
    if provider.rate_limit:
        # About a turn's worth at the provider's rate, so one slow provider
        # holds a worker slot for seconds at a time, not for hours.
        size = min(size, max(1, provider.rate_limit * TURN_SECONDS))
    return size


# How long a task sends for before handing over to a new task at the back of
# the queue, so that every campaign's tasks take turns on the workers.
TURN_SECONDS = 10
BATCHES_PER_CLAIM = 4


def enqueue(campaign_id: int, count: int) -> None:
    """Start the tasks that send a campaign; each goes on until no work is left
    (see work), so a few suffice however large the campaign."""
    campaign = Campaign.objects.get(pk=campaign_id)
    chunks = max(1, -(-count // chunk_size(campaign)))
    for _ in range(min(chunks, settings.SEND_PARALLEL_TASKS)):
        tasks.wake(campaign_id)


def start(*, campaign_id: int, now: datetime | None = None) -> int:
    """Start a scheduled campaign whose time has come."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign_id)
    if (
        campaign.status != Campaign.Status.SCHEDULED
        or (campaign.scheduled_at or now) > now
    ):
        return 0
    try:
        return launch(campaign=campaign, now=now)
    except LaunchError as err:
        # Stays scheduled, with the reason on its page; the sweeper tries again.
        logger.warning(
            "scheduled campaign %s cannot start: %s",
            campaign_id,
            err,
            extra={"campaign_id": campaign_id},
        )
        Campaign.objects.filter(
            pk=campaign_id, status=Campaign.Status.SCHEDULED
        ).update(launch_problem=str(err)[:500])
        return 0


# --- claiming and sending -------------------------------------------------------------


def claim(*, campaign_id: int, limit: int, now: datetime) -> list[Claimed]:
    token = uuid.uuid4().hex
    ready = (
        Message.objects.filter(campaign_id=campaign_id, status=Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("pk")
        .values("pk")[:limit]
    )
    if connection.features.has_select_for_update_skip_locked:
        # Rows another claim is taking are passed over, not waited for: two
        # workers never queue behind (or deadlock with) each other.
        ready = ready.select_for_update(skip_locked=True)
    with transaction.atomic():
        claimed = Message.objects.filter(
            pk__in=Subquery(ready), status=Status.QUEUED
        ).update(status=Status.SENDING, claim=token, claimed_at=now)
    if not claimed:
        return []
    # Plain tuples of what sending reads: building model rows would cost as
    # much as the sends themselves.
    rows = (
        Message.objects.filter(claim=token, status=Status.SENDING)
        .order_by("sender_id", "pk")
        .values_list(*Claimed._fields)
    )
    return [Claimed(*row) for row in rows]


def work(*, campaign_id: int) -> int:
    """Send a campaign's ready messages chunk after chunk for a turn; then, if a
    full chunk was still found, hand over to a new task. Return how many
    messages were claimed."""
    # A sweep can wait long behind busy workers' tasks, and the rows of a
    # worker that died are usually what the campaign still needs.
    reclaim_stale(now=timezone.now())
    started, total = time.monotonic(), 0
    limit = chunk_size(Campaign.objects.get(pk=campaign_id))
    while True:
        claimed = process_chunk(campaign_id=campaign_id, limit=limit)
        total += claimed
        if claimed < limit:
            return total  # nothing ready (others have it, or it waits to retry)
        if time.monotonic() - started > TURN_SECONDS:
            tasks.wake(campaign_id)
            return total


def process_chunk(
    *, campaign_id: int, now: datetime | None = None, limit: int | None = None
) -> int:
    """Claim and send one chunk of a campaign (`limit` messages, or its chunk
    size); return how many were claimed."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("sender__provider", "route").get(
        pk=campaign_id
    )
    if campaign.status != Campaign.Status.SENDING:
        return 0
    plan = campaign.route.plan() if campaign.route_id else None
    sender = plan.lead if plan else campaign.resolved_sender()
    if sender is None or (plan is None and not sender.provider.is_active):
        return 0  # Waits, queued, until the provider is active again.
    quiet_until = sender.quiet_until(now)
    if quiet_until:
        wake_at(campaign_id, quiet_until)
        return 0
    limit = limit or chunk_size(campaign)
    if plan is None:
        # One provider: while it cannot be used, nothing is claimed at all.
        gate = gated(sender, campaign_id=campaign_id, now=now)
        if gate is not None:
            if not gate:
                return 0
            limit = min(limit, gate)
    messages = claim(campaign_id=campaign_id, limit=limit, now=now)
    # A route's or an event campaign's chunk may hold several senders.
    senders = {sender.pk: sender} | (plan.senders if plan else {})
    others = {m.sender_id for m in messages if m.sender_id} - senders.keys()
    if others:
        senders |= Sender.objects.select_related("provider").in_bulk(others)
    states = health.states({s.provider_id for s in senders.values()}, now=now)
    again: list[datetime] = []
    for sender_id, group in groupby(messages, key=attrgetter("sender_id")):
        group = list(group)
        own = senders.get(sender_id, sender)
        moment = send_or_reroute(
            group,
            sender=own,
            plan=plan,
            state=states[own.provider_id] if own.provider.is_active else ARCHIVED,
            whole_claim=len(group) == len(messages),
            now=now,
        )
        if moment is not None:
            again.append(moment)
    if again:
        # Messages moved to the next provider, or waiting for theirs.
        look = min(again)
        if look <= now:
            tasks.wake(campaign_id)
        else:
            wake_at(campaign_id, look)
    if len(messages) < limit:
        finish_if_done(campaign_id)
    return len(messages)


ARCHIVED = health.State(health.PAUSED, "The provider is archived (inactive).")


def gated(sender, *, campaign_id: int, now: datetime) -> int | None:
    """How many messages a campaign of one sender may claim now: None for no
    limit, 0 for none (its provider is paused or its breaker open; the campaign
    is woken when that may change), or one request's worth when the provider
    is due a probe (which one worker wins, in send_or_reroute)."""
    state = health.states([sender.provider_id], now=now)[sender.provider_id]
    if state.usable:
        return None
    provider = sender.provider
    if state.name == health.PROBING:
        return provider.batch_size if provider.batch_enabled else 1
    wake_at(campaign_id, fallback.resumes(state, now))
    return 0


def send_or_reroute(
    group: list[Claimed], *, sender, plan, state, whole_claim: bool, now: datetime
) -> datetime | None:
    """Send a sender's claimed messages, unless its provider cannot be used now:
    then a route moves them on and a single sender hands them back to wait.
    Return when the campaign should look again at messages not sent."""
    provider = sender.provider
    again = None
    if state.name == health.PROBING and health.take_probe(provider.pk, now=now):
        # Only the probe goes to a provider that was failing; the rest move on.
        size = provider.batch_size if provider.batch_enabled else 1
        group, rest, whole_claim = group[:size], group[size:], False
        if rest:
            again = fallback.reroute(rest, plan=plan, state=state, now=now)
    elif not state.usable:
        return fallback.reroute(group, plan=plan, state=state, now=now)
    send_claimed(
        group, sender=sender, whole_claim=whole_claim, now=now, plan=plan, state=state
    )
    return again


def wake_at(campaign_id: int, moment: datetime) -> None:
    # An eager (test) Celery would run the task at once and meet the same quiet
    # hours again; there the sweeper wakes the campaign instead.
    if not tasks.send_chunk.app.conf.task_always_eager:
        tasks.wake(campaign_id, eta=moment)


def send_claimed(
    messages: Sequence[Claimed],
    *,
    sender,
    now: datetime,
    whole_claim: bool = False,
    plan: Plan | None = None,
    state: health.State = health.HEALTHY_STATE,
) -> None:
    """Send claimed messages (one request each, or in batches) and record each
    answer as it returns, renewing the claim's lease meanwhile; the answers
    tell the provider's breaker, and on a route may hand messages on."""
    provider = sender.provider
    if not provider.is_active:
        release(messages)
        return
    outbound = outbound_for(provider, sender)
    watch = health.Watch(provider.pk, state)
    hand_on = partial(fallback.hand_on, plan=plan, sender=sender) if plan else None
    if provider.batch_enabled:
        groups, threads = list(outbound.batches(messages)), 1
    else:
        groups, threads = [[m] for m in messages], settings.SEND_CONCURRENCY
    lease = Lease(messages[0].claim)
    timings = latency.Pending(provider.pk)
    delays: list[float] = []
    sent: set[int] = set()
    for returned in as_they_return(
        groups,
        partial(send_group, outbound),
        threads=threads,
        # Twice the threads: each may have one request out and one answer
        # waiting to be written down while the last answers are recorded.
        unrecorded=2 * threads,
        tick=lease.every,
        stop=watch.stop,
    ):
        lease.keep()
        if not returned:
            continue
        watch.saw(outcomes for _, outcomes in returned)
        sent.update(m.pk for group, _ in returned for m in group)
        pairs = [
            pair
            for group, outcomes in returned
            for pair in zip(group, outcomes, strict=True)
        ]
        whole = whole_claim and len(pairs) == len(messages)
        timings.saw(outcomes[0] for _, outcomes in returned if outcomes)
        delays += record(
            pairs, whole_claim=whole, now=now, hand_on=hand_on, timings=timings.due()
        )
    latency.add(*timings.take())
    if watch.tripped:
        # The breaker opened mid-claim: what was not sent yet goes to the
        # route's next provider, or waits out the cool-down.
        unsent = [m for m in messages if m.pk not in sent]
        if unsent:
            again = fallback.reroute(unsent, plan=plan, state=watch.tripped, now=now)
            delays.append(max(0.0, (again - now).total_seconds()))
        if plan and fallback.retry_elsewhere(messages[0].campaign_id, sender, now=now):
            delays.append(0.0)
    if watch.recovered:
        delays.append(0.0)  # the probe went through: the rest may follow now
    campaign_id = messages[0].campaign_id
    for delay in sorted(set(delays)):
        tasks.wake(campaign_id, countdown=delay)


def outbound_for(provider, sender) -> Outbound:
    """The provider compiled to send as this sender, reused while neither has
    changed: compiling reads its rows and decrypts its secrets, a few ms a
    chunk. Saving a provider (its rows are saved with it) changes updated_at."""
    key = (provider.pk, provider.updated_at, sender.pk, sender.sender_id)
    found = _outbounds.get(key)
    if found is None:
        if len(_outbounds) > 64:
            _outbounds.clear()
        found = _outbounds[key] = Outbound(provider, sender)
    return found


_outbounds: dict[tuple, Outbound] = {}


class Lease:
    """A claim held by a live worker: renewed a few times per SEND_CLAIM_TIMEOUT,
    so only the rows of a worker that stopped run out. A live worker takes those
    back as it renews, rather than waiting for a sweep stuck behind busy tasks."""

    def __init__(self, claim: str) -> None:
        self.claim = claim
        self.every = settings.SEND_CLAIM_TIMEOUT / 4
        self.renewed = time.monotonic()

    def keep(self) -> None:
        if time.monotonic() - self.renewed < self.every:
            return
        now = timezone.now()
        Message.objects.filter(claim=self.claim, status=Status.SENDING).update(
            claimed_at=now
        )
        reclaim_stale(now=now)
        self.renewed = time.monotonic()


def release(messages: Sequence[Claimed]) -> None:
    """Hand claimed messages back untouched; no attempt was made."""
    Message.objects.filter(
        pk__in=[m.pk for m in messages], claim=messages[0].claim, status=Status.SENDING
    ).update(status=Status.QUEUED, claim="")


def send_group(outbound: Outbound, group: Sequence[Claimed]) -> list[Outcome]:
    provider = outbound.provider
    throttle.acquire(
        provider_id=provider.pk, count=len(group), per_second=provider.rate_limit
    )
    outgoing = [
        Outgoing(
            to=m.to,
            body=m.body,
            message_id=m.message_id,
            campaign_id=str(m.campaign_id),
            template_id=m.placeholders.get("TemplateID", ""),
            template_variables=m.placeholders.get("TemplateVariables", ""),
            extra=m.placeholders,
        )
        for m in group
    ]
    # The transport's log line says which campaign (and message) it sent.
    single = group[0].message_id if len(group) == 1 else None
    with bound(campaign_id=group[0].campaign_id, message_id=single):
        return outbound.send(outgoing)


def finish_if_done(campaign_id: int) -> bool:
    if Campaign.objects.get(pk=campaign_id).kind == Campaign.Kind.EVENT:
        return False
    pending = Message.objects.filter(
        campaign_id=campaign_id, status__in=[Status.QUEUED, Status.SENDING]
    )
    if pending.exists():
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).update(
            status=Campaign.Status.COMPLETED, completed_at=timezone.now()
        )
    )


# --- housekeeping and admin actions ---------------------------------------------------


def reclaim_stale(*, now: datetime) -> int:
    """Give back rows whose worker stopped renewing its lease (it died). They keep
    their message ids and attempt counts; the provider may have the cut-off
    attempt, which is remembered (maybe_sent) so a final failure says so."""
    cutoff = now - timedelta(seconds=settings.SEND_CLAIM_TIMEOUT)
    reclaimed = Message.objects.filter(
        status=Status.SENDING, claimed_at__lt=cutoff
    ).update(status=Status.QUEUED, claim="", maybe_sent=True)
    if reclaimed:
        logger.warning(
            "took back %s messages from a worker that stopped mid-send", reclaimed
        )
    return reclaimed


def sweep(*, now: datetime | None = None) -> int:
    """Reclaim dead claims, start due campaigns and wake campaigns with ready work."""
    now = now or timezone.now()
    reclaim_stale(now=now)
    for campaign_id in Campaign.objects.filter(
        status=Campaign.Status.SCHEDULED, scheduled_at__lte=now
    ).values_list("pk", flat=True):
        start(campaign_id=campaign_id, now=now)
    woken = 0
    for campaign_id in Campaign.objects.filter(
        status=Campaign.Status.SENDING
    ).values_list("pk", flat=True):
        ready = Message.objects.filter(campaign_id=campaign_id, status=Status.QUEUED)
        if ready.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        ).exists():
            tasks.wake(campaign_id)  # once per campaign, however many are ready
            woken += 1
        else:
            finish_if_done(campaign_id)
    return woken
