"""A 100,000-recipient campaign through a batch provider, 1,000 records a request.

Timed: sending.launch (with eager tasks, as one worker would) and any chunk left,
until the last row is SENT.

Floor, in the same run: the same database work and the same requests done the
plain way a careful program would, in plain SQL on the same SQLite connection
(Django's, with its PRAGMAs), without the ORM. The app's rows are deleted, then:

1. build: the audience read with a plain cursor (number and JSON columns), each
   text personalised by the same one-pass substitution, a fresh uuid4 message
   id each: the work any program does to know what to send;
2. insert: those rows (every other column, QUEUED included, as launch writes
   it) into the same columns, with one executemany of one prepared INSERT, in
   one transaction;
3. for each batch of 1,000, in the order the app claimed them:
   - the claim UPDATE: the next 1,000 QUEUED rows by id become SENDING under a
     fresh token (autocommit);
   - one POST of the same body, path and headers to the same fake server, from
     a bare requests.Session (keep-alive);
   - in one IMMEDIATE transaction, the sent UPDATE: the token's SENDING rows
     become SENT (attempts + 1, sent_at, claim and failure cleared), and with
     --provider-ids one executemany writing each row's umid by id.

Outside the floor's clock: rendering the request bodies (the app renders them
inside its clock, about 2 ms a batch), reading the rows' ids (the app reads its
claimed rows back inside its clock), opening the connection, checkpointing the
WAL (done before the app's clock too). Target: at most 1.5x the floor. The
ratio to the database work and POSTs alone (steps 2 and 3) is printed too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from bench import common

RECIPIENTS = 100_000
TARGET = 1.5

VARYING = ("message_id", "to", "body")
CLAIM = """
UPDATE campaigns_message
SET status = 'sending', claim = ?, claimed_at = ?
WHERE id IN (
    SELECT id FROM campaigns_message
    WHERE campaign_id = ? AND status = 'queued'
      AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
    ORDER BY id LIMIT ?
) AND status = 'queued'
"""
SENT = """
UPDATE campaigns_message
SET status = 'sent', attempts = attempts + 1, claim = '', sent_at = ?,
    failure_category = '', failure_reason = ''
WHERE claim = ? AND status = 'sending'
"""
PROVIDER_ID = "UPDATE campaigns_message SET provider_message_id = ? WHERE id = ?"


def stamp() -> str:
    """Now, as Django writes a datetime to SQLite (UTC, no offset)."""
    return str(datetime.now(UTC).replace(tzinfo=None))


@contextmanager
def immediate(db) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def floor_build(db, campaign) -> list[tuple[str, str, str]]:
    """(message id, number, text) per audience member, the plain way."""
    from campaigns.personalise import FIELD

    template = campaign.message
    query = (
        'SELECT "to", fields FROM campaigns_audiencemember '
        "WHERE campaign_id = ? ORDER BY id"
    )
    rows = []
    for to, fields in db.execute(query, (campaign.pk,)):
        values = json.loads(fields)
        text = FIELD.sub(lambda m, v=values: str(v.get(m[1], m[0])), template)
        rows.append((uuid.uuid4().hex, to, text))
    return rows


def floor_insert(campaign) -> tuple[str, tuple]:
    """The INSERT launch runs, and the values of every column but the message
    id, number and text, as launch writes them (defaults, so status QUEUED)."""
    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Message

    at_launch = {
        "campaign_id": campaign.pk,
        "sender_id": campaign.sender_id,
        "created_at": timezone.now(),
    }
    fixed = [
        f
        for f in Message._meta.concrete_fields
        if not f.primary_key and f.attname not in VARYING
    ]
    values = tuple(
        f.get_db_prep_save(at_launch.get(f.attname, f.get_default()), connection)
        for f in fixed
    )
    columns = [*VARYING, *(f.column for f in fixed)]
    sql = "INSERT INTO campaigns_message ({}) VALUES ({})".format(  # noqa: S608
        ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns))
    )
    return sql, values


def floor(campaign, wires: list, *, batch: int, provider_ids: bool):
    """Seconds for the floor's insert and for its batches (module docstring)."""
    from django.db import connection

    insert_sql, values = floor_insert(campaign)
    db = connection.connection  # the sqlite3 connection, in autocommit
    db.execute("DELETE FROM campaigns_message WHERE campaign_id = ?", (campaign.pk,))
    common.checkpoint()
    started = time.perf_counter()
    rows = [(*row, *values) for row in floor_build(db, campaign)]
    build = time.perf_counter() - started
    with immediate(db):
        db.executemany(insert_sql, rows)
    insert = time.perf_counter() - started - build
    query = "SELECT id FROM campaigns_message WHERE campaign_id = ? ORDER BY id"
    ids = [pk for (pk,) in db.execute(query, (campaign.pk,))]
    session = common.bare_session()
    common.post(session, wires[0])  # open the connection outside the clock
    common.checkpoint()
    started = time.perf_counter()
    for start, wire in zip(range(0, len(ids), batch), wires, strict=True):
        taken = ids[start : start + batch]
        send_batch(db, session, wire, campaign.pk, taken, provider_ids=provider_ids)
    return build, insert, time.perf_counter() - started


def send_batch(
    db, session, wire, campaign_id: int, ids: list[int], *, provider_ids: bool
) -> None:
    """Claim the batch's rows (`ids`), post its request, mark the rows sent and,
    with provider_ids, write the umids the answer gives, in order."""
    token, now = uuid.uuid4().hex, stamp()
    claimed = db.execute(CLAIM, (token, now, campaign_id, now, len(ids))).rowcount
    answer = common.post(session, wire)
    with immediate(db):
        sent = db.execute(SENT, (now, token)).rowcount
        if provider_ids:
            umids = [m["umid"] for m in answer.json()["messages"]]
            db.executemany(PROVIDER_ID, zip(umids, ids, strict=True))
    if not claimed == sent == len(ids):
        raise RuntimeError(f"floor: {claimed} claimed, {sent} sent of {len(ids)}")


def unsent(campaign, options) -> str:
    """What is missing once every row should be SENT (with its umid), if any."""
    from campaigns.models import Message

    sent = campaign.messages.filter(status=Message.Status.SENT).count()
    if sent != options.recipients:
        return f"only {sent:,} of {options.recipients:,} rows are SENT"
    if (
        options.provider_ids
        and campaign.messages.filter(provider_message_id="").exists()
    ):
        return "some rows did not get the provider's umid"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=RECIPIENTS)
    parser.add_argument(
        "--provider-ids",
        action="store_true",
        help="the fake answers one umid per record and the provider reads them "
        "(message id path messages.0.umid), so every row also gets its provider id",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the run")
    options = parser.parse_args(argv)
    common.configure()
    common.setup_django()
    with common.fake_provider(ids=options.provider_ids) as url:
        provider, sender = common.make_provider(
            slug="8x8-clevertap", base_url=url, sender_type="promotional"
        )
        if options.provider_ids:
            provider.message_id_path = "messages.0.umid"
            provider.save(update_fields=["message_id_path"])
        campaign = common.make_campaign(sender=sender, size=options.recipients)
        with common.profiled(options.profile):
            elapsed, to_enqueue = common.run_campaign(campaign)
        if problem := unsent(campaign, options):
            print(f"smsbridge: {problem}")
            return 2
        wires = common.rendered_requests(campaign, group_size=provider.batch_size)
        build, insert, batches = floor(
            campaign,
            wires,
            batch=provider.batch_size,
            provider_ids=options.provider_ids,
        )
        if problem := unsent(campaign, options):
            print(f"floor: {problem}")
            return 2
    size = sum(len(w.body) for w in wires) / len(wires)
    return common.finish(
        common.Result(
            bench="batch_campaign",
            title=f"{options.recipients:,} recipients, {provider.batch_size:,} per "
            "request, launch to last row SENT",
            ours=elapsed,
            floor=build + insert + batches,
            unit="s",
            target=TARGET,
            lower_is_better=True,
            details=[
                "with a provider umid per record (--provider-ids)"
                if options.provider_ids
                else "the preset as shipped: no provider id read from the answer",
                f"{len(wires)} requests of {size / 1024:,.0f} KiB on average",
                f"smsbridge: {to_enqueue:.2f} s creating rows, "
                f"{elapsed - to_enqueue:.2f} s sending "
                f"({options.recipients / elapsed:,.0f} messages/s overall)",
                f"floor: {build:.2f} s building rows, "
                f"{insert:.2f} s for one executemany INSERT, "
                f"{batches:.2f} s for {len(wires)} x (claim UPDATE, POST, "
                "sent UPDATE"
                + (", umid executemany" if options.provider_ids else "")
                + ")",
                f"database work and POSTs alone: {insert + batches:.2f} s, "
                f"{elapsed / (insert + batches):.2f}x",
            ],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
