"""The admin pages a user opens, at 1,000,000 campaign messages and 200,000
delivery reports, against the same pages on a nearly empty database.

Built first, outside any clock, on one throwaway SQLite file: a provider made
from a preset, a superuser, 10 campaigns (8 completed, 2 still sending), with 5
messages a campaign, 5 delivery reports and 5 test sends: the nearly empty
database, copied aside (SQLite's backup) with the superuser's session. Then the
volume is added to the same campaigns through the app's own bulk insert
(campaigns.bulk.insert_rows): 1,000,000 messages in all (half delivered, a
quarter sent, failures in four categories, opted-out skips, and queued rows in
the running campaigns), 200,000 delivery reports (applied, refused, waiting;
answered 200, 400, 401) and 2,995 more test sends. The campaigns' counters
(campaigns/counts.py) are then made from the rows by the GROUP BY the migration
that introduced them runs (campaigns/migrations/0010_message_counts.py), so the
pages read counters that agree with the messages, as the sending workflow would
have left them.

Timed, after every page was fetched once on each database: each page below
fetched by Django's test Client logged in as a superuser on the nearly empty
copy and at once at volume (the connection pointed at one file, then the
other), so that both see the shared machine as loaded as it then is: the
median of 5 fetches after one warm-up, and one more fetch whose queries are
counted (CaptureQueriesContext) and timed, with the rows the page lists (a
full page costs more to render than a nearly empty one whatever the volume).
Target: every page at most 12 queries at volume and at most 5x its time on
the nearly empty database.

Also timed: sending.launch of a 100,000- and a 1,000,000-recipient campaign
with a personalised message, creating its rows only (the tasks that send them
are not started). Target: the million at most 12x the 100,000 (linear).

`--messages` and `--reports` make a smaller run; the launches are a tenth of
`--messages` and all of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sqlite3
import statistics
import sys
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import quote

from bench import common

MESSAGES = 1_000_000
REPORTS = 200_000
TEST_SENDS = 3_000
CAMPAIGNS = 10
RUNNING = 2  # of the campaigns, the last ones are still sending
FEW = 5  # messages a campaign and delivery reports on the nearly empty database
FEW_TEST_SENDS = 5
FETCHES = 5
QUERY_LIMIT = 12
PAGE_TARGET = 5.0
LAUNCH_TARGET = 12.0
NUMBER_PREFIX = "+6591000"

# Out of every 100 messages: (status, failure category, reason).
SPREAD = (
    [("delivered", "", "")] * 50
    + [("sent", "", "")] * 25
    + [("failed", "undelivered", "Absent subscriber")] * 10
    + [("failed", "rejected", "Invalid destination")] * 4
    + [("failed", "bad_request", "Missing field: to")] * 2
    + [("failed", "server_error", "HTTP 503")] * 1
    + [("skipped", "opted_out", "The number is on the opt-out list.")] * 3
    + [("queued", "", "")] * 5
)
# Out of every 20 delivery reports: (state, answered, format); the rare first,
# so that the nearly empty database has one of each too.
REPORT_SPREAD = [
    ("refused", 400, ""),
    ("refused", 401, ""),
    ("waiting", 200, "8x8"),
    *[("applied", 200, "8x8")] * 17,
]


def pages(volume: Volume) -> dict[str, str]:
    """Each page a user opens, by name: its URL."""
    campaign = volume.campaign_ids[0]
    reports = "/admin/campaigns/deliveryreport/"
    return {
        "campaigns list": "/admin/campaigns/campaign/",
        "campaign page": f"/admin/campaigns/campaign/{campaign}/change/",
        "campaign progress JSON": f"/admin/campaigns/campaign/{campaign}/progress/",
        "messages": "/admin/campaigns/message/",
        "messages, failed": "/admin/campaigns/message/?status__exact=failed",
        "messages, rejected": "/admin/campaigns/message/"
        "?failure_category__exact=rejected",
        "messages, number prefix": "/admin/campaigns/message/?q="
        + quote(NUMBER_PREFIX),
        "messages, message id": f"/admin/campaigns/message/?q={volume.message_id}",
        "delivery reports": reports,
        "delivery reports, refused": f"{reports}?state__exact=refused",
        "delivery reports, answered 400": f"{reports}?response_status=400",
        "delivery reports, receipt": f"{reports}?q={volume.receipt}",
        "test sends": "/admin/providers/testsend/",
        "providers": "/admin/providers/provider/",
    }


# --- building -------------------------------------------------------------------------


@dataclass
class Volume:
    """What was built, and a message id and receipt to search for."""

    provider_id: int
    sender_id: int
    campaign_ids: list[int]
    messages: int = 0
    reports: int = 0
    test_sends: int = 0
    message_id: str = ""
    receipt: str = ""


def stamp(moment: datetime) -> str:
    """A datetime as Django writes it to SQLite (UTC, no offset)."""
    return str(moment.astimezone(UTC).replace(tzinfo=None))


def setup() -> Volume:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from campaigns.models import Campaign

    provider, sender = common.make_provider(
        slug="8x8-clevertap", base_url="http://127.0.0.1:9", sender_type="promotional"
    )
    User.objects.create_superuser("bench", "bench@example.test", "unused")
    now = timezone.now()
    ids = []
    for index in range(CAMPAIGNS):
        running = index >= CAMPAIGNS - RUNNING
        campaign = Campaign.objects.create(
            name=f"bench {index}",
            sender=sender,
            message=common.MESSAGE,
            status=Campaign.Status.SENDING if running else Campaign.Status.COMPLETED,
            launched_at=now,
            completed_at=None if running else now,
        )
        ids.append(campaign.pk)
    return Volume(provider.pk, sender.pk, ids)


def add_messages(volume: Volume, *, per_campaign: int) -> None:
    from campaigns.bulk import insert_rows
    from campaigns.models import Message

    sent_at = stamp(datetime.now(UTC) - timedelta(days=1))
    columns = ["message_id", "to", "body", "status", "failure_category"]
    columns += ["failure_reason", "sent_at", "delivered_at"]
    for number, campaign_id in enumerate(volume.campaign_ids):
        running = number >= CAMPAIGNS - RUNNING
        first = volume.messages
        rows = (
            message_row(first + index, running=running, sent_at=sent_at)
            for index in range(per_campaign)
        )
        volume.messages += insert_rows(
            Message,
            columns=columns,
            rows=rows,
            constants={"campaign_id": campaign_id, "sender_id": volume.sender_id},
        )
    volume.message_id = Message.objects.order_by("-pk").values_list(
        "message_id", flat=True
    )[0]


def message_row(index: int, *, running: bool, sent_at: str) -> tuple:
    # Spread by a stride, so that each campaign gets every state.
    status, category, reason = SPREAD[index * 37 % len(SPREAD)]
    if status == "queued" and not running:
        status = "delivered"  # a completed campaign has nothing left to send
    body = f"Hi Alex, your ACME order A{index:07d} is on its way. Reply STOP to end."
    reported = status == "delivered" or category == "undelivered"
    reached = reported or status == "sent"
    return (
        uuid.uuid4().hex,
        f"+6591{index:06d}",
        body,
        status,
        category,
        reason,
        sent_at if reached else None,
        sent_at if reported else None,
    )


def add_reports(volume: Volume, *, count: int) -> None:
    from campaigns.bulk import insert_rows
    from campaigns.models import DeliveryReport

    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / max(count, 1)
    body = json.dumps({"umid": "x", "status": {"state": "delivered"}})
    columns = ["received_at", "receipt", "state", "response_status", "format"]
    columns += ["result", "body", "method"]
    rows = (
        (
            stamp(start + step * index),
            uuid.uuid4().hex,
            *REPORT_SPREAD[index % len(REPORT_SPREAD)],
            "1 update applied",
            body,
            "POST",
        )
        for index in range(count)
    )
    volume.reports += insert_rows(
        DeliveryReport,
        columns=columns,
        rows=rows,
        constants={"provider_id": volume.provider_id},
    )
    receipt = DeliveryReport.objects.order_by("-pk").values_list("receipt", flat=True)
    volume.receipt = str(receipt[0])


def add_test_sends(volume: Volume, *, count: int) -> None:
    from campaigns.bulk import insert_rows
    from providers.models import TestSend

    start = datetime.now(UTC) - timedelta(days=30)
    columns = ["created_at", "to", "message_id", "category", "status_code"]
    columns += ["latency_ms", "message", "diagnosis"]
    rows = (
        (
            stamp(start + timedelta(minutes=index)),
            f"+6592{index:06d}",
            uuid.uuid4().hex,
            "accepted" if index % 10 else "rejected",
            200 if index % 10 else 400,
            120,
            "smsbridge test message",
            "The provider accepted the message.",
        )
        for index in range(count)
    )
    volume.test_sends += insert_rows(
        TestSend,
        columns=columns,
        rows=rows,
        constants={"provider_id": volume.provider_id, "sender_id": volume.sender_id},
    )


def recount() -> None:
    """The campaigns' counters made from their rows, as the migration that
    introduced them made them: one GROUP BY over the messages."""
    from django.apps import apps

    from campaigns.models import MessageCount

    migration = importlib.import_module("campaigns.migrations.0010_message_counts")
    MessageCount.objects.all().delete()
    migration.count_existing(apps, None)


def build(volume: Volume, *, messages: int, reports: int, test_sends: int) -> None:
    from django.db import transaction

    with transaction.atomic():
        add_messages(volume, per_campaign=messages // CAMPAIGNS)
        add_reports(volume, count=reports)
        add_test_sends(volume, count=test_sends)
        recount()
    common.checkpoint()


# --- the pages ------------------------------------------------------------------------


@dataclass
class Page:
    queries: int
    ms: float
    sql_ms: float  # of one fetch, from the captured queries
    rows: int  # shown on the page, for lists: rendering each costs too


def fetch(client, url: str) -> Page:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answered = client.get(url)
    if answered.status_code != 200:
        raise RuntimeError(f"{url} answered {answered.status_code}")
    spent: list[float] = []
    with (
        CaptureQueriesContext(connection) as captured,
        connection.execute_wrapper(partial(timed, spent)),
    ):
        client.get(url)
    # Read now: the next request empties the log the capture reads.
    queries = len(captured)
    times = []
    for _ in range(FETCHES):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    median = 1000 * statistics.median(times)
    return Page(queries, median, 1000 * sum(spent), listed(answered.content))


def timed(spent: list[float], execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        spent.append(time.perf_counter() - started)


def listed(page: bytes) -> int:
    """Rows of a changelist's table, 0 for another page."""
    _, found, rest = page.partition(b'id="result_list"')
    return rest.split(b"</table>", 1)[0].count(b"<tr") - 1 if found else 0


def copy_database(path: Path) -> None:
    """Copy the database as it is now to `path` (SQLite's online backup)."""
    from django.db import connection

    connection.ensure_connection()
    with closing(sqlite3.connect(path)) as copy:
        connection.connection.backup(copy)


def use_database(path: Path) -> None:
    """Point the connection at another file; the next query opens it."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = str(path)


def logged_in_client():
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="bench"))
    return client


def fetch_all(
    client, empty: tuple[Path, Volume], full: tuple[Path, Volume]
) -> tuple[dict[str, Page], dict[str, Page]]:
    """Each page on the nearly empty database, then at once at volume, so
    that both see the machine as loaded as it then is."""
    from django.conf import settings
    from django.test import override_settings

    few, many = {}, {}
    urls = zip(pages(empty[1]).items(), pages(full[1]).values(), strict=True)
    # Static URLs without the manifest collectstatic would write: a production
    # page looks its files up in a dict, as cheap as this.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        for path, volume in (empty, full):
            use_database(path)  # every page once first: templates, caches
            for url in pages(volume).values():
                client.get(url)
        for (name, empty_url), full_url in urls:
            use_database(empty[0])
            few[name] = fetch(client, empty_url)
            use_database(full[0])
            many[name] = fetch(client, full_url)
    return few, many


# --- launching ------------------------------------------------------------------------


def audience(campaign_id: int, *, size: int) -> None:
    from django.db import transaction

    from campaigns.bulk import insert_rows
    from campaigns.models import AudienceMember

    rows = (
        (
            f"+6593{index:07d}",
            json.dumps({"first_name": "Alex", "order": f"A{index:07d}"}),
        )
        for index in range(size)
    )
    with transaction.atomic():
        insert_rows(
            AudienceMember,
            columns=["to", "fields"],
            rows=rows,
            constants={"campaign_id": campaign_id},
        )


def timed_launch(volume: Volume, *, size: int) -> float:
    """Seconds for sending.launch to create a campaign's rows; nothing is sent."""
    from campaigns import sending
    from campaigns.models import Campaign

    campaign = Campaign.objects.create(
        name=f"launch {size}", sender_id=volume.sender_id, message=common.MESSAGE
    )
    audience(campaign.pk, size=size)
    common.checkpoint()
    started = time.perf_counter()
    queued = sending.launch(campaign=campaign)
    elapsed = time.perf_counter() - started
    if queued != size:
        raise RuntimeError(f"launch queued {queued:,} of {size:,}")
    return elapsed


def launches(volume: Volume, *, large: int) -> tuple[float, float]:
    from campaigns import sending

    # The rows alone are timed: the tasks that would send them are not started.
    sending.enqueue = lambda campaign_id, count: None
    small = timed_launch(volume, size=large // 10)
    return small, timed_launch(volume, size=large)


# --- reporting ------------------------------------------------------------------------


@dataclass
class PagesResult(common.Result):
    queries_met: bool = True
    launch_met: bool = True
    pages_met: bool = True
    extra: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return self.pages_met and self.queries_met and self.launch_met


def page_lines(empty: dict[str, Page], full: dict[str, Page]) -> list[str]:
    lines = [
        "at volume / nearly empty: queries, ms (of which in SQL), rows listed",
        f"{'page':<32} {'queries':>7} {'ms':>20} {'SQL ms':>13} {'rows':>9} "
        f"{'ratio':>6}  verdict",
    ]
    for name, page in full.items():
        few = empty[name]
        ratio = page.ms / few.ms
        met = page.queries <= QUERY_LIMIT and ratio <= PAGE_TARGET
        lines.append(
            f"{name:<32} {page.queries:>2} / {few.queries:<2} "
            f"{page.ms:>9.1f} / {few.ms:<8.1f} "
            f"{page.sql_ms:>5.1f} / {few.sql_ms:<5.1f} "
            f"{page.rows:>3} / {few.rows:<3} {ratio:>5.2f}x  "
            + ("met" if met else "MISSED")
        )
    return lines


def result(
    volume: Volume,
    empty: dict[str, Page],
    full: dict[str, Page],
    launched: tuple[float, float],
    large: int,
) -> PagesResult:
    worst = max(full, key=lambda name: full[name].ms / empty[name].ms)
    small, big = launched
    return PagesResult(
        bench="admin_pages",
        title=f"admin pages at {volume.messages:,} messages and {volume.reports:,} "
        f"delivery reports; the slowest against itself nearly empty: {worst}",
        ours=full[worst].ms,
        floor=empty[worst].ms,
        unit="ms",
        target=PAGE_TARGET,
        lower_is_better=True,
        details=[
            f"{volume.test_sends:,} test sends; every page: median of {FETCHES} "
            f"fetches, at most {QUERY_LIMIT} queries and {PAGE_TARGET:g}x",
            *page_lines(empty, full),
            f"launch, rows created: {large // 10:,} recipients {small:.2f} s, "
            f"{large:,} recipients {big:.2f} s, {big / small:.2f}x "
            f"(target at most {LAUNCH_TARGET:g}x): "
            + ("met" if big <= LAUNCH_TARGET * small else "MISSED"),
        ],
        queries_met=all(page.queries <= QUERY_LIMIT for page in full.values()),
        pages_met=all(full[n].ms <= PAGE_TARGET * empty[n].ms for n in full),
        launch_met=big <= LAUNCH_TARGET * small,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--reports", type=int, default=REPORTS)
    options = parser.parse_args(argv)
    workdir = common.configure()
    # The test Client's host; the pages are fetched in this process only.
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    common.setup_django()
    volume = setup()
    build(volume, messages=FEW * CAMPAIGNS, reports=FEW, test_sends=FEW_TEST_SENDS)
    client = logged_in_client()  # its session is in both databases
    nearly_empty = workdir / "nearly-empty.sqlite3"
    copy_database(nearly_empty)
    few = dataclasses.replace(volume)
    started = time.perf_counter()
    build(
        volume,
        messages=options.messages - FEW * CAMPAIGNS,
        reports=options.reports - FEW,
        test_sends=TEST_SENDS - FEW_TEST_SENDS,
    )
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    database = Path(connection_name())
    empty, full = fetch_all(client, (nearly_empty, few), (database, volume))
    launched = launches(volume, large=options.messages)
    return common.finish(result(volume, empty, full, launched, options.messages))


def connection_name() -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


if __name__ == "__main__":
    sys.exit(main())
