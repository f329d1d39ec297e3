"""What every benchmark shares: a throwaway environment, the fake provider, data
made through the app's own forms and models, and one way to report a figure
against its floor."""

from __future__ import annotations

import atexit
import cProfile
import json
import os
import platform
import pstats
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = "Hi $$first_name, your ACME order $$order is on its way. Reply STOP to end."
# --- environment ----------------------------------------------------------------------


def configure(*, settings_module: str = "config.settings") -> Path:
    """Point Django at a fresh SQLite file (opened as the project's settings open
    it: WAL, IMMEDIATE transactions) with fresh keys; call before any import of
    the app. The directory is removed when the process exits."""
    from cryptography.fernet import Fernet

    workdir = Path(tempfile.mkdtemp(prefix="smsbridge-bench-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    database = f"sqlite:///{workdir / 'bench.sqlite3'}"
    # Set, not setdefault: values from the project's .env (DEBUG above all, which
    # keeps every query in memory) must not leak into a measurement.
    os.environ.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DATABASE_URL=database,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DJANGO_DEBUG="false",
        DJANGO_SECURE_SSL_REDIRECT="false",
        SMS_ALLOW_PRIVATE_ENDPOINTS="true",
        SMS_SANDBOX_API_KEY="",
        CELERY_TASK_ALWAYS_EAGER="true",
        CELERY_BROKER_URL="memory://localhost/",
        # One line per send would flood the terminal and time the console.
        LOG_LEVEL="WARNING",
    )
    return workdir


def setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0))
    return (
        f"{cpus} CPUs (nproc), {model}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version} (WAL)"
    )


# --- the fake provider ----------------------------------------------------------------


@contextmanager
def fake_provider(
    *,
    ids: bool = False,
    max_seconds: float = 600,
    fail_after: int | None = None,
    record: bool = False,
) -> Iterator[str]:
    """Start bench.fake_provider in its own process; yield its base URL."""
    command = [sys.executable, "-m", "bench.fake_provider"]
    command += ["--max-seconds", str(max_seconds)] + (["--ids"] if ids else [])
    if fail_after is not None:
        command += ["--fail-after", str(fail_after)]
    command += ["--record"] if record else []
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        line = process.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError(f"the fake provider did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def received(url: str) -> dict[str, list[str]]:
    """The numbers a fake started with record=True accepted and refused."""
    from urllib.request import urlopen

    with urlopen(url + "/_bench/received", timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


# --- data -----------------------------------------------------------------------------


def make_provider(*, slug: str, base_url: str, sender_type: str, nickname: str = ""):
    """A provider and its sender, made from a preset through the setup form."""
    from providers.sandbox.demo import provider_from_preset

    provider = provider_from_preset(
        slug,
        base_url=base_url,
        values={"subAccountId": "bench-account", "apiKey": secrets.token_urlsafe(24)},
        nickname=nickname or f"{slug} bench",
        sender_type=sender_type,
        sender_id="ACME",
        rate_limit=0,  # no limit: the figure is smsbridge's own
    )
    return provider, provider.senders.get()


def make_campaign(*, sender=None, size: int, route=None, sender_type: str = ""):
    """A draft one-time campaign with `size` personalised recipients, sent
    through `sender` or, instead, `route`."""
    from campaigns.models import AudienceMember, Campaign

    campaign = Campaign.objects.create(
        name=f"bench {size}",
        sender=sender,
        route=route,
        sender_type=sender_type or sender.sender_type,
        message=MESSAGE,
    )
    AudienceMember.objects.bulk_create(
        (
            AudienceMember(
                campaign=campaign,
                to=f"+6590{index:06d}",
                fields={"first_name": "Alex", "order": f"A{index:06d}"},
            )
            for index in range(size)
        ),
        batch_size=5000,
    )
    return campaign


class Wire(NamedTuple):
    """A rendered request as the app's session puts it on the wire."""

    method: str
    url: str
    path: str  # with its query, for http.client
    body: bytes
    headers: dict[str, str]


def rendered_requests(campaign, *, group_size: int) -> list[Wire]:
    """The requests smsbridge sent for a campaign, rendered again by the app's
    own renderer from the rows, in the order and groups it claimed them, with
    the headers its session adds (User-Agent, Accept, ...) under their own."""
    from requests.structures import CaseInsensitiveDict

    from campaigns.models import Message
    from providers.outbound.rendering import Message as Outgoing
    from providers.outbound.rendering import compile_request
    from providers.outbound.spec import request_spec
    from providers.outbound.transport import session

    sender = campaign.sender
    compiled = compile_request(request_spec(sender.provider, sender=sender))
    rows = [
        Outgoing(to=to, body=body, message_id=mid, campaign_id=str(campaign.pk))
        for to, body, mid in Message.objects.filter(campaign=campaign)
        .order_by("pk")
        .values_list("to", "body", "message_id")
    ]
    wires = []
    for start in range(0, len(rows), group_size):
        request = compiled.render(rows[start : start + group_size])
        headers = CaseInsensitiveDict(session().headers)
        headers.update(request.headers)
        url = urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        wires.append(
            Wire(request.method, request.url, path, request.body, dict(headers))
        )
    return wires


def bare_session():
    import requests

    session = requests.Session()
    session.trust_env = False  # as the app's session: no proxy look-ups per request
    return session


def post(session, wire: Wire):
    """Post as the app must: with its connect and read timeouts (a socket with a
    timeout waits for readiness before each read and write, a few per cent of a
    request) and no redirects."""
    from django.conf import settings

    response = session.request(
        wire.method,
        wire.url,
        data=wire.body,
        headers=wire.headers,
        timeout=(settings.SMS_CONNECT_TIMEOUT, settings.SMS_READ_TIMEOUT),
        allow_redirects=False,
    )
    response.raise_for_status()
    return response


def checkpoint() -> None:
    """Copy the WAL into the database file, so that a timed part does not pay
    for the writes of the part before it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- measuring and reporting ----------------------------------------------------------


def run_campaign(campaign) -> tuple[float, float]:
    """Seconds from launch to the last row sent, and to the first enqueue."""
    from campaigns import sending

    enqueued = mark_calls(sending, "enqueue")
    checkpoint()
    started = time.perf_counter()
    sending.launch(campaign=campaign)
    while sending.process_chunk(campaign_id=campaign.pk):
        pass
    finished = time.perf_counter()
    return finished - started, (enqueued or [finished])[0] - started


def mark_calls(module, name: str) -> list[float]:
    """Record when module.name is called, without changing what it does."""
    original = getattr(module, name)
    marks: list[float] = []

    def marked(*args, **kwargs):
        marks.append(time.perf_counter())
        return original(*args, **kwargs)

    setattr(module, name, marked)
    return marks


@contextmanager
def profiled(enabled: bool, *, top: int = 30) -> Iterator[None]:
    """With --profile, print where the time went (profiling slows the run)."""
    if not enabled:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        stats = pstats.Stats(profile, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)


@dataclass
class Result:
    """A figure of ours against its floor, measured in the same run."""

    bench: str
    title: str
    ours: float
    floor: float
    unit: str
    target: float
    lower_is_better: bool
    details: list[str] = field(default_factory=list)
    # Other floors, printed with their ratio for information; the target is
    # judged against `floor` alone.
    others: dict[str, float] = field(default_factory=dict)
    # What must hold besides the ratio (nothing lost, nothing sent twice): any
    # one of these misses the target, whatever the ratio.
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.ours / self.floor

    @property
    def met(self) -> bool:
        if self.problems:
            return False
        if self.lower_is_better:
            return self.ratio <= self.target
        return self.ratio >= self.target

    @property
    def target_text(self) -> str:
        return f"{'at most' if self.lower_is_better else 'at least'} {self.target:g}x"


def figure(value: float) -> str:
    """Four significant digits, without an exponent for large figures."""
    return f"{value:,.0f}" if value >= 1000 else f"{value:,.4g}"


def finish(result: Result) -> int:
    """Print the result, its ratio and the machine; the exit code says if it met."""
    verdict = "met" if result.met else "MISSED"
    print(f"\n{result.bench}: {result.title}")
    print(f"  machine: {machine()}")
    for line in result.details:
        print(f"  {line}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    print(f"  smsbridge: {figure(result.ours)} {result.unit}")
    print(f"  floor:     {figure(result.floor)} {result.unit}")
    print(
        f"  ratio:     {result.ratio:.2f}x the floor "
        f"(target {result.target_text}): {verdict}"
    )
    for name, floor in result.others.items():
        ratio = result.ours / floor
        print(f"  {name}: {figure(floor)} {result.unit}, {ratio:.2f}x (information)")
    summary = {
        "bench": result.bench,
        "ours": result.ours,
        "floor": result.floor,
        "unit": result.unit,
        "ratio": round(result.ratio, 3),
        "target": result.target_text,
        "met": result.met,
        "problems": result.problems,
        "others": {
            name: round(result.ours / floor, 3) for name, floor in result.others.items()
        },
    }
    print("RESULT " + json.dumps(summary), flush=True)
    return 0 if result.met else 1
