"""Two campaigns at once: SQLite with 1 worker, PostgreSQL + Redis with 1 and 2.

Two campaigns are launched at once (in one commit, from a setup process): a
100,000-recipient campaign through the 8x8 CleverTap batch preset (1,000
records a request) and a 10,000-recipient one through the 8x8 MoEngage preset
(one message a request), both at the loopback fake provider. Three runs, each
on a fresh, migrated database, with real Celery processes as they are deployed:

(a) SQLite in WAL and the filesystem broker, as `make run` runs them: one
    worker `celery -A config worker --pool=threads --concurrency=2` and beat;
(b) PostgreSQL and Redis, as README's "One machine, then many": one worker
    `celery -A config worker --concurrency 2` (prefork) and `celery -A config
    beat`;
(c) the same with two workers.

PostgreSQL (initdb in a temporary folder, fsync off, 127.0.0.1 only) and
redis-server are started on free ports for the benchmark and stopped when it
ends, however it ends. Workers log at WARNING (one INFO line per send would time
the log file); beat logs at INFO. Workers and beat are started, and answer a
ping, before the clock; the setup process makes the audiences and checkpoints
the database before it; the clock starts as launch begins (launched_at).

Timed: launch until no message is queued or sending, and for each campaign
until none of its own is, polled every 0.2 s (the campaigns' rows, which the
last chunk marks completed; the messages themselves every 1 s, as reading them
costs PostgreSQL 10-25 ms). Read afterwards: messages sent and
failed; PostgreSQL's deadlocks for the run's database (pg_stat_database, once
the workers' connections are closed); doubles, as records the fake provider
received beyond one per distinct number and endpoint (it is wrapped to count
them), checked against the attempts the database recorded; and the CPU seconds
each process used while the clock ran.

Target: the two PostgreSQL workers (c) take at most 1.5x the time of the one
SQLite worker (a).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import secrets
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.request import urlopen

from bench import common
from config.processes import die_with
from tests import servers

BATCH_RECIPIENTS, SINGLE_RECIPIENTS = 100_000, 10_000
TARGET = 1.5
DEADLINE_SECONDS = 600  # for one run, from launch
POLL_SECONDS = 0.2
CELERY = str(Path(sys.executable).with_name("celery"))
# Every process of a run gets these; the rest of the sending settings keep their
# defaults (SEND_* from the caller's environment are dropped).
SENDING = {"SEND_CONCURRENCY": "8", "SEND_SWEEP_SECONDS": "15"}
COUNTS_PATH = b"/_bench/counts"
DESTINATION = re.compile(rb'"destination":\s*"([^"]*)"')
# A campaign is done once none of its messages is queued or sending. Its row says
# so for the price of reading two rows (the last chunk marks it completed once
# none is left); the messages are read too, every fifth poll, so that a campaign
# left unmarked is seen done all the same. On PostgreSQL reading them costs
# 10-25 ms a time, in dead index entries, on the CPUs being measured.
CAMPAIGNS = "SELECT id, status <> 'completed' FROM campaigns_campaign"
MESSAGES = """
SELECT c.id, EXISTS (
    SELECT 1 FROM campaigns_message m
    WHERE m.campaign_id = c.id AND m.status IN ('queued', 'sending')
) FROM campaigns_campaign c
"""
MESSAGES_EVERY = 5  # polls
TALLY = """
SELECT campaign_id, status, count(*), sum(attempts)
FROM campaigns_message GROUP BY campaign_id, status
"""
COMPLETED = "SELECT id, launched_at, completed_at FROM campaigns_campaign"
TIMES = """
SELECT c.id, c.launched_at, min(m.sent_at), max(m.sent_at), c.completed_at
FROM campaigns_campaign c JOIN campaigns_message m ON m.campaign_id = c.id
GROUP BY c.id, c.launched_at, c.completed_at
"""
# What a worker or beat log should not hold.
TROUBLE = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|deadlock", re.IGNORECASE)


# --- processes ------------------------------------------------------------------------


def child_of_this_process() -> Callable[[], None]:
    """A preexec_fn: the kernel stops the child if this process dies, however."""
    parent = os.getpid()
    return lambda: die_with(parent)


def spawn(command: list[str], **options) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - fixed binaries, our own arguments
        command,
        cwd=common.ROOT,
        preexec_fn=child_of_this_process(),  # noqa: PLW1509 - no threads here
        **options,
    )


def stop(process: subprocess.Popen, *, seconds: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_until(ready: Callable[[], bool], process, *, what: str, seconds: float):
    deadline = time.monotonic() + seconds
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {seconds:.0f} s")
        time.sleep(0.1)


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process and its descendants, the ones
    that exited included (their parent's cutime and cstime)."""
    used, children = {}, defaultdict(list)
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat:
            fields = stat.rsplit(")", 1)[1].split()
            used[int(entry.name)] = sum(int(f) for f in fields[11:15])
            children[int(fields[1])].append(int(entry.name))

    def tree(pid: int) -> int:
        return used.get(pid, 0) + sum(tree(child) for child in children[pid])

    tick = os.sysconf("SC_CLK_TCK")
    return {name: tree(pid) / tick for name, pid in roots.items()}


def busy_seconds() -> float:
    """CPU seconds every process on the machine has used since it booted."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


# --- the servers ----------------------------------------------------------------------


@dataclass
class Postgres:
    url: str  # of its postgres database
    process: subprocess.Popen

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def admin(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as db:
            cursor = db.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL (tests/servers.py) that dies with this process."""
    with servers.postgres_server(preexec_fn=child_of_this_process()) as server:
        yield Postgres(*server)


@dataclass
class Redis:
    url: str  # without a database number
    process: subprocess.Popen

    def database(self, number: int) -> str:
        """The URL of an emptied database: beat's lock and old tasks are gone."""
        import redis

        url = f"{self.url}/{number}"
        redis.Redis.from_url(url).flushdb()
        return url


@contextmanager
def redis_server() -> Iterator[Redis]:
    """A throwaway redis-server (tests/servers.py) that dies with this process."""
    with servers.redis_server(preexec_fn=child_of_this_process()) as server:
        yield Redis(*server)


# --- the fake provider, counting what it receives -------------------------------------


def serve_counting_fake(max_seconds: float) -> int:
    """bench.fake_provider, its answers unchanged, that also counts the records
    posted to each endpoint by number; GET /_bench/counts tells the totals."""
    from bench import fake_provider

    plain, requests = fake_provider.answer, Counter()
    numbers = {"batch": Counter(), "single": Counter()}

    def counting(path: bytes, body: bytes, *, ids: bool) -> bytes:
        if path == COUNTS_PATH:
            counts = {
                kind: {
                    "requests": requests[kind],
                    "records": sum(seen.values()),
                    "distinct": len(seen),
                }
                for kind, seen in numbers.items()
            }
            payload = json.dumps(counts).encode()
            return fake_provider.HEAD.format(length=len(payload)).encode() + payload
        kind = "batch" if b"/batch" in path else "single"
        requests[kind] += 1
        numbers[kind].update(DESTINATION.findall(body))
        return plain(path, body, ids=ids)

    fake_provider.answer = counting
    return fake_provider.main(["--max-seconds", str(max_seconds)])


@contextmanager
def counting_fake(*, max_seconds: float) -> Iterator[tuple[str, int]]:
    """Start it in its own process; yield its base URL and pid."""
    command = [sys.executable, "-m", "bench.bench_scale_out"]
    process = spawn(
        [*command, "--serve-fake", str(max_seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError(f"the fake provider did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}", process.pid
    finally:
        stop(process, seconds=10)


def fake_counts(url: str) -> dict[str, dict[str, int]]:
    with urlopen(url + COUNTS_PATH.decode(), timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


# --- the setup process ----------------------------------------------------------------


def setup(*, url: str, batch: int, single: int) -> int:
    """Run in the run's environment: make both campaigns, checkpoint, say
    "ready"; on a line from stdin launch both in one commit and print JSON."""
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from campaigns import sending

    campaigns = {}
    for kind, slug, sender_type, size in (
        ("batch", "8x8-clevertap", "promotional", batch),
        ("single", "8x8-moengage", "transactional", single),
    ):
        _, sender = common.make_provider(
            slug=slug, base_url=url, sender_type=sender_type
        )
        campaigns[kind] = common.make_campaign(sender=sender, size=size)
    with connection.cursor() as cursor:
        # The audiences' writes are not the clock's to pay for.
        cursor.execute(
            "PRAGMA wal_checkpoint(TRUNCATE)"
            if connection.vendor == "sqlite"
            else "CHECKPOINT"
        )
    print("ready", flush=True)
    sys.stdin.readline()
    launched, cpu = timezone.now(), time.process_time()
    with transaction.atomic():  # both campaigns' tasks go out on this one commit
        for campaign in campaigns.values():
            sending.launch(campaign=campaign, now=launched)
    took = {"seconds": time.time() - launched.timestamp()}
    took["cpu"] = time.process_time() - cpu
    ids = {kind: campaign.pk for kind, campaign in campaigns.items()}
    print(json.dumps({"ids": ids, "launched": launched.timestamp(), **took}))
    return 0


# --- one run --------------------------------------------------------------------------


@dataclass
class Run:
    """One of (a), (b), (c): where its database and broker are, and its workers."""

    key: str
    title: str
    workers: int
    pool: list[str]  # the worker's pool options
    env: dict[str, str]
    connect: Callable  # a DB-API connection in autocommit
    folder: Path  # logs (and SQLite's files)
    servers: dict[str, int] = field(default_factory=dict)  # name -> pid
    postgres: Postgres | None = None
    database: str = ""


@dataclass
class Outcome:
    run: Run
    seconds: dict[str, float] = field(default_factory=dict)  # launch to done
    both: float | None = None
    deadlocks: int | None = None
    doubles: int = 0
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


class Celery:
    """The run's workers and beat, started as deployed, each logging to a file."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.running: dict[str, subprocess.Popen] = {}
        self.nodes = [f"w{index}@bench" for index in range(1, run.workers + 1)]

    def start(self) -> None:
        schedule = self.run.folder / "beat-schedule"
        self.launch("beat", ["beat", "--loglevel=INFO", "-s", str(schedule)])
        for node in self.nodes:
            options = [*self.run.pool, "-n", node, "--loglevel=WARNING"]
            self.launch(node, ["worker", *options])
        wait_until(self.answer, self.running["beat"], what="workers", seconds=90)
        wait_until(
            lambda: "beat: Starting" in self.log("beat"),
            self.running["beat"],
            what="beat",
            seconds=30,
        )

    def launch(self, name: str, arguments: list[str]) -> None:
        with (self.run.folder / f"{name}.log").open("w") as log:
            self.running[name] = spawn(
                [CELERY, "-A", "config", *arguments],
                env=self.run.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def answer(self) -> bool:
        """Every worker answers a ping: it consumes from the broker."""
        self.check_alive()
        done = subprocess.run(  # noqa: S603 - celery, fixed arguments
            [CELERY, "-A", "config", "inspect", "ping", "-t", "2"]
            + ["-d", ",".join(self.nodes)],
            cwd=common.ROOT,
            env=self.run.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return all(f"{node}: OK" in done.stdout for node in self.nodes)

    def log(self, name: str) -> str:
        return (self.run.folder / f"{name}.log").read_text(errors="replace")

    def log_sizes(self) -> dict[str, int]:
        return {name: len(self.log(name)) for name in self.running}

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log(name)[-2000:]}")

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            stop(process)


def migrate(run: Run) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=common.ROOT,
        env=run.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"migrate failed:\n{done.stderr[-3000:]}")


def start_setup(run: Run, url: str, options) -> subprocess.Popen:
    """The setup process, once it has made both campaigns and waits to launch."""
    sizes = ["--batch-recipients", str(options.batch_recipients)]
    sizes += ["--single-recipients", str(options.single_recipients)]
    with (run.folder / "setup.log").open("w") as log:
        process = spawn(
            [sys.executable, "-m", "bench.bench_scale_out", "--setup", url, *sizes],
            env=run.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    readable, _, _ = select.select([process.stdout], [], [], 600)
    line = process.stdout.readline() if readable else ""
    if line.strip() != "ready":
        stop(process)
        tail = (run.folder / "setup.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the setup process did not get ready: {line!r}\n{tail}")
    return process


def launch(process: subprocess.Popen) -> dict:
    """Have the setup process launch both campaigns; what it printed."""
    try:
        out, _ = process.communicate("go\n", timeout=600)
    finally:
        stop(process)
    if process.returncode:
        raise RuntimeError("the setup process failed to launch (see setup.log)")
    return json.loads(out)


def watch(run: Run, celery: Celery, launched: dict) -> tuple[dict, float | None]:
    """Seconds from launch until each campaign has no message queued or sending,
    and until none has; None if the deadline came first."""
    kinds = {pk: kind for kind, pk in launched["ids"].items()}
    started = launched["launched"]
    seconds: dict[str, float] = {}
    with closing(run.connect()) as db:
        for poll in itertools.count():
            if time.time() > started + DEADLINE_SECONDS:
                break
            celery.check_alive()
            query = CAMPAIGNS if poll % MESSAGES_EVERY else MESSAGES
            rows = db.execute(query).fetchall()
            moment = time.time() - started
            for pk, pending in rows:
                if not pending:
                    seconds.setdefault(kinds[pk], moment)
            if len(seconds) == len(kinds):
                return seconds, moment
            time.sleep(POLL_SECONDS)
    return seconds, None


def wait_completed(run: Run, *, seconds: float) -> None:
    """The campaigns are marked completed by the last chunk, or by a sweep."""
    deadline = time.monotonic() + seconds
    with closing(run.connect()) as db:
        while time.monotonic() < deadline:
            rows = db.execute(COMPLETED).fetchall()
            if all(completed for _, _, completed in rows):
                return
            time.sleep(POLL_SECONDS)


def measure(run: Run, options) -> Outcome:
    """Launch both campaigns on the run's workers; time them until all is sent."""
    outcome = Outcome(run)
    migrate(run)
    celery = Celery(run)
    with ExitStack() as stack:
        url, fake = stack.enter_context(counting_fake(max_seconds=2 * DEADLINE_SECONDS))
        stack.callback(celery.stop)
        celery.start()
        roots = {name: p.pid for name, p in celery.running.items()}
        roots |= {"fake provider": fake, **run.servers}
        setup_process = start_setup(run, url, options)
        before, poll_cpu, busy = cpu_seconds(roots), time.process_time(), busy_seconds()
        logged = celery.log_sizes()
        launched = launch(setup_process)
        outcome.seconds, outcome.both = watch(run, celery, launched)
        used = subtract(cpu_seconds(roots), before)
        used |= {"launch (setup process)": launched["cpu"]}
        used |= {"this poller": time.process_time() - poll_cpu}
        # Anything else running on the machine meanwhile took CPUs from the run.
        used["other processes"] = busy_seconds() - busy - sum(used.values())
        wait_completed(run, seconds=float(SENDING["SEND_SWEEP_SECONDS"]) + 5)
        logged = {name: (logged[name], end) for name, end in celery.log_sizes().items()}
        celery.stop()
        counts = fake_counts(url)
    outcome.details.append(
        f"launch (both campaigns' rows written, in one commit): "
        f"{launched['seconds']:.1f} s, of which {launched['cpu']:.1f} s CPU in "
        "the setup process"
    )
    outcome.details.append(cpu_line(used, outcome.both))
    read_back(outcome, launched, counts)
    outcome.details += trouble(celery, logged)
    return outcome


def subtract(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0) for name in after}


def cpu_line(used: dict[str, float], wall: float | None) -> str:
    spent = ", ".join(f"{name} {seconds:.1f}" for name, seconds in used.items())
    cpus = len(os.sched_getaffinity(0))
    if wall is None:
        return f"CPU seconds while the clock ran: {spent}"
    return (
        f"CPU seconds while the clock ran: {spent}; total {sum(used.values()):.1f} "
        f"of {cpus} CPUs x {wall:.1f} s = {cpus * wall:.1f}"
    )


def read_back(outcome: Outcome, launched: dict, counts: dict) -> None:
    """What the database and the fake provider say happened, against each other."""
    run = outcome.run
    kinds = {pk: kind for kind, pk in launched["ids"].items()}
    with closing(run.connect()) as db:
        tallies = db.execute(TALLY).fetchall()
        times = db.execute(TIMES).fetchall()
    statuses = {kind: Counter() for kind in launched["ids"]}
    attempts: Counter = Counter()
    for pk, status, count, tried in tallies:
        statuses[kinds[pk]][status] += count
        attempts[kinds[pk]] += tried or 0
    for pk, *moments in sorted(times):
        kind, seen = kinds[pk], counts[kinds[pk]]
        outcome.doubles += seen["records"] - seen["distinct"]
        outcome.details.append(
            f"{kind}: {dict(statuses[kind])}, attempts {attempts[kind]:,}; "
            f"fake provider: {seen['requests']:,} requests, {seen['records']:,} "
            f"records, {seen['distinct']:,} distinct numbers; " + timeline(*moments)
        )
        if seen["records"] != attempts[kind]:
            outcome.problems.append(
                f"{kind}: the fake provider received {seen['records']:,} records, "
                f"the database counts {attempts[kind]:,} attempts"
            )
        if set(statuses[kind]) - {"sent", "failed"} or kind not in outcome.seconds:
            outcome.problems.append(f"{kind}: not finished: {dict(statuses[kind])}")
    if run.postgres:
        outcome.deadlocks = deadlocks(run)


def timeline(launched_at, first, last, completed_at) -> str:
    """When, after launch, the first and last chunks were claimed (sent_at is
    their claim's time) and the campaign was marked completed."""
    start = as_datetime(launched_at)

    def after(value) -> str:
        if value is None:
            return "never"
        return f"{(as_datetime(value) - start).total_seconds():.1f} s"

    return (
        f"chunks claimed from {after(first)} to {after(last)}, "
        f"marked completed at {after(completed_at)}"
    )


def as_datetime(value) -> datetime:
    """A datetime as read from PostgreSQL (aware) or SQLite (text, in UTC)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def deadlocks(run: Run) -> int:
    """Backends count their deadlocks into pg_stat_database as they exit: read
    it once no connection to the run's database is left."""
    pg, deadline = run.postgres, time.monotonic() + 30
    connected = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
    while pg.admin(connected, (run.database,))[0][0] and time.monotonic() < deadline:
        time.sleep(0.1)
    [(count,)] = pg.admin(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (run.database,)
    )
    return count


def trouble(celery: Celery, logged: dict[str, tuple[int, int]]) -> list[str]:
    """Warnings and errors the workers and beat logged while the clock ran (from
    launch until the campaigns were completed), the first few of each."""
    lines = []
    for name, (start, end) in logged.items():
        text = celery.log(name)[start:end]
        found = [line for line in text.splitlines() if TROUBLE.search(line)]
        if found:
            lines.append(f"{name} logged {len(found)} warnings or errors, first:")
            lines += [f"  {line[:300]}" for line in found[:3]]
    return lines


# --- the three runs -------------------------------------------------------------------


def base_env() -> dict[str, str]:
    """The environment of every process of every run: fresh keys, nothing of
    the caller's database, broker or sending settings (nor of .env, which
    these override)."""
    from cryptography.fernet import Fernet

    own = ("SEND_", "CELERY_", "DATABASE_", "DB_", "DLR_", "DJANGO_", "LOG_")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(own)},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "SMS_ALLOW_PRIVATE_ENDPOINTS": "true",
        "SMS_SANDBOX_API_KEY": "",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "WARNING",
        **SENDING,
    }


def sqlite_run(env: dict[str, str], folder: Path) -> Run:
    """(a): as `make run`: a SQLite file, the filesystem broker beside it."""
    path, broker = folder / "db.sqlite3", folder / "broker"
    for part in ("queue", "processed", "control"):
        (broker / part).mkdir(parents=True)
    return Run(
        key="a",
        title="SQLite + filesystem broker, 1 worker (threads, 2)",
        workers=1,
        pool=["--pool=threads", "--concurrency=2"],
        env={
            **env,
            "DATABASE_URL": f"sqlite:///{path}",
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_BROKER_DIR": str(broker),
            "SEND_RATE_DIR": str(folder / "rate"),
        },
        connect=lambda: sqlite3.connect(path, timeout=30, isolation_level=None),
        folder=folder,
    )


def postgres_run(
    key: str, workers: int, env: dict[str, str], folder: Path, pg, redis
) -> Run:
    """(b) and (c): a new database on the PostgreSQL server, an empty Redis
    database as the broker, prefork workers as README starts them."""
    import psycopg

    name = f"bench_{key}_{uuid.uuid4().hex[:8]}"
    pg.admin(f"CREATE DATABASE {name}")
    url = pg.database_url(name)
    return Run(
        key=key,
        title=f"PostgreSQL + Redis, {workers} worker{'s' * (workers > 1)} (prefork, 2)",
        workers=workers,
        pool=["--concurrency", "2"],
        env={
            **env,
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": redis.database(ord(key) - ord("a")),
        },
        connect=lambda: psycopg.connect(url, autocommit=True),
        folder=folder,
        servers={"postgres": pg.process.pid, "redis": redis.process.pid},
        postgres=pg,
        database=name,
    )


def attempt(run: Run, options) -> Outcome:
    """Measure a run; a run that fails says why instead of stopping the others."""
    try:
        outcome = measure(run, options)
    except Exception as error:  # noqa: BLE001 - reported, and the exit code says so
        outcome = Outcome(run, problems=[f"failed: {error!r}"])
    if options.logs:
        target = Path(options.logs) / run.key
        target.mkdir(parents=True, exist_ok=True)
        for log in run.folder.glob("*.log"):
            shutil.copy(log, target / log.name)
    if run.postgres:
        run.postgres.admin(f"DROP DATABASE IF EXISTS {run.database} WITH (FORCE)")
    report(outcome)
    return outcome


def report(outcome: Outcome) -> None:
    run = outcome.run
    print(f"\n({run.key}) {run.title}", flush=True)
    for line in outcome.details + [f"PROBLEM: {p}" for p in outcome.problems]:
        print(f"  {line}", flush=True)


def table(outcomes: list[Outcome], options) -> list[str]:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    batch = f"batch {options.batch_recipients:,}"
    single = f"single {options.single_recipients:,}"
    lines = [
        f"{'run':<56} {batch:>14} {single:>14} {'both done':>10} "
        f"{'deadlocks':>9} {'doubles':>7}"
    ]
    for outcome in outcomes:
        run = outcome.run
        deadlocks = "n/a" if outcome.deadlocks is None else str(outcome.deadlocks)
        lines.append(
            f"{f'({run.key}) {run.title}':<56} "
            f"{seconds(outcome.seconds.get('batch')):>14} "
            f"{seconds(outcome.seconds.get('single')):>14} "
            f"{seconds(outcome.both):>10} {deadlocks:>9} {outcome.doubles:>7}"
        )
    return lines


def runs(options, stack: ExitStack, folder: Path) -> Iterator[Run]:
    env = base_env()
    servers = None
    for key in sorted(set(options.runs)):
        (folder / key).mkdir()
        if key == "a":
            yield sqlite_run(env, folder / key)
            continue
        if servers is None:  # started for the first run that needs them
            servers = (
                stack.enter_context(postgres()),
                stack.enter_context(redis_server()),
            )
        yield postgres_run(key, {"b": 1, "c": 2}[key], env, folder / key, *servers)


def verdict(outcomes: list[Outcome], options) -> int:
    by_key = {outcome.run.key: outcome for outcome in outcomes}
    problems = any(outcome.problems for outcome in outcomes)
    if problems or not {"a", "c"} <= set(by_key):
        print(f"\nmachine: {common.machine()}")
        print("\n".join(table(outcomes, options)))
    if problems:
        print("some run failed or sent wrongly (PROBLEM lines above): no verdict")
        return 2
    if not {"a", "c"} <= set(by_key):
        return 0  # the ratio needs both
    others = {}
    if "b" in by_key:
        others["1 PostgreSQL worker (b)"] = by_key["b"].both
    return common.finish(
        common.Result(
            bench="scale_out",
            title=f"a {options.batch_recipients:,}-recipient batch campaign and "
            f"a {options.single_recipients:,}-message one-per-request campaign "
            "launched at once, launch to the last message sent: 2 workers on "
            "PostgreSQL + Redis (c) against 1 on SQLite (a)",
            ours=by_key["c"].both,
            floor=by_key["a"].both,
            unit="s",
            target=TARGET,
            lower_is_better=True,
            details=table(outcomes, options),
            others=others,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-recipients", type=int, default=BATCH_RECIPIENTS)
    parser.add_argument("--single-recipients", type=int, default=SINGLE_RECIPIENTS)
    parser.add_argument(
        "--runs", nargs="+", choices="abc", default=list("abc"), help="some of them"
    )
    parser.add_argument("--logs", help="copy each run's worker and beat logs here")
    # The benchmark's own child processes.
    parser.add_argument("--serve-fake", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--setup", metavar="URL", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.serve_fake:
        return serve_counting_fake(options.serve_fake)
    if options.setup:
        return setup(
            url=options.setup,
            batch=options.batch_recipients,
            single=options.single_recipients,
        )
    # SIGTERM unwinds like an exception: every server and worker is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        outcomes = [attempt(run, options) for run in runs(options, stack, folder)]
    return verdict(outcomes, options)


if __name__ == "__main__":
    sys.exit(main())
