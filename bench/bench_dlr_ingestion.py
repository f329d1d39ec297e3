"""Delivery-report ingestion under gunicorn: 8x8-native receipts POSTed to
/dlr/<token>/ for messages that exist, against a trivial Django view served by
the same gunicorn (bench/urls_bench.py), with a Celery worker beside it applying
the accepted reports, as README runs them. Figures are successful requests per
second over a fixed time from 8 client connections (kept alive where the
worker class allows); wrk when it is installed, else a Python client (which then
is likely the bottleneck of the trivial view). A third figure, the callback's
work up to its database writes, shows how the time divides; the bench also
waits until every accepted report is applied and says how long that took.
On SQLite (the default) or on a throwaway PostgreSQL (`--database postgres`,
tests/servers.py). Targets: DLR requests per second at least 0.6x the trivial
view's on PostgreSQL, 0.5x on SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bench import common

TARGETS = {"postgres": 0.6, "sqlite": 0.5}
MESSAGES = 100_000
FIXTURE = common.ROOT / "tests" / "fixtures" / "dlr" / "8x8_delivered.json"
# The web server as README runs it in production: sync workers, 2 per CPU.
GUNICORN = "--workers 4"

WRK_SCRIPT = """
local template = %s
local offset_next = 0

function setup(thread)
  thread:set("offset", offset_next)
  offset_next = offset_next + 1
end

function init(args)
  total, stride, start = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
  sent = 0
end

function request()
  local i = (start + offset + sent * stride) %% total
  sent = sent + 1
  local mid = string.format("%%032x", i)
  local umid = string.format("umid-%%010d", i)
  local body = (template:gsub("<mid>", mid):gsub("<umid>", umid))
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def message_id(index: int) -> str:
    return f"{index:032x}"


def provider_id(index: int) -> str:
    return f"umid-{index:010d}"


def body_template() -> str:
    """8x8's delivered receipt with <mid> and <umid> where the ids go."""
    receipt = json.loads(FIXTURE.read_text())
    receipt["payload"].update(clientMessageId="<mid>", umid="<umid>")
    return json.dumps(receipt, separators=(",", ":"))


def receipt(template: str, index: int) -> str:
    return template.replace("<mid>", message_id(index)).replace(
        "<umid>", provider_id(index)
    )


def make_sent_messages(count: int) -> str:
    """`count` SENT messages of one provider; return its callback token."""
    from django.utils import timezone

    from campaigns.models import Campaign, Message

    provider, sender = common.make_provider(
        slug="8x8-moengage", base_url="http://127.0.0.1:9", sender_type="transactional"
    )
    campaign = Campaign.objects.create(
        name="bench dlr", sender=sender, message=common.MESSAGE
    )
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            sender=sender,
            message_id=message_id(index),
            provider_message_id=provider_id(index),
            to=f"+6590{index:06d}",
            body="Hi Alex, your ACME order is on its way.",
            status=Message.Status.SENT,
            sent_at=now,
        )
        for index in range(count)
    )
    return provider.callback_token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """A process of the project's, logging to a file, stopped by its own pid."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.log = log
        with log.open("w") as file:
            self.process = subprocess.Popen(  # noqa: S603
                command, cwd=common.ROOT, stdout=file, stderr=subprocess.STDOUT
            )

    def wait_ready(self, ready, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if ready():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.log.stem} did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Gunicorn(Service):
    """bench.wsgi_bench under gunicorn on 127.0.0.1."""

    def __init__(self, workdir: Path, options: str) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "gunicorn", "bench.wsgi_bench:application"]
        command += ["--bind", f"127.0.0.1:{self.port}", *options.split()]
        command += ["--keep-alive", "30"]
        super().__init__(command, workdir / "gunicorn.log")
        self.wait_ready(self._answers, timeout=60)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answers(self) -> bool:
        import requests

        try:
            return requests.get(self.base + "/bench/trivial/", timeout=10).ok
        except requests.RequestException:
            return False

    def errors(self) -> list[str]:
        """How many requests failed with a server error, and the exceptions."""
        text = self.log.read_text(errors="replace")
        failed = text.count("Internal Server Error: ")
        causes = sorted(set(re.findall(r"^(django\.[\w.]+: .*)$", text, re.M)))
        return (
            [f"{failed:,} server errors, warm-up included: {'; '.join(causes)}"]
            if failed
            else []
        )


class CeleryWorker(Service):
    """A Celery worker as README runs one beside the web server: it applies the
    delivery reports that gunicorn's processes accepted."""

    def __init__(self, workdir: Path) -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        command = [celery, "-A", "config", "worker", "--pool=solo", "--loglevel=INFO"]
        command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
        super().__init__(command, workdir / "worker.log")
        self.wait_ready(lambda: " ready." in self.log.read_text(), timeout=60)


@dataclass(frozen=True)
class Load:
    """POST receipts to `url` for `seconds`; receipt n names message start + n."""

    url: str
    seconds: float
    connections: int
    total: int
    start: int = 0


def load_wrk(load: Load) -> dict:
    threads = min(2, load.connections)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(WRK_SCRIPT % json.dumps(body_template()))
    command = ["wrk", f"-t{threads}", f"-c{load.connections}", f"-d{load.seconds:g}s"]
    command += ["-s", file.name, load.url, "--"]
    command += [str(load.total), str(threads), str(load.start)]
    try:
        output = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(file.name)
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(done[1]),
        "failed": int(bad[1]) if bad else 0,
        "seconds": float(done[2]) / (1000 if done[3] == "ms" else 1),
    }


def load_python(load: Load) -> dict:
    """Keep-alive sessions, one per thread, until the time is up."""
    template = body_template()
    statuses: Counter = Counter()
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + load.seconds

    def client(offset: int) -> None:
        session, seen, sent = common.bare_session(), Counter(), 0
        headers = {"Content-Type": "application/json"}
        while time.perf_counter() < deadline:
            index = (load.start + offset + sent * load.connections) % load.total
            body = receipt(template, index)
            response = session.post(load.url, data=body, headers=headers, timeout=30)
            seen[response.status_code] += 1
            sent += 1
        with lock:
            statuses.update(seen)

    clients = [
        threading.Thread(target=client, args=(n,)) for n in range(load.connections)
    ]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    return {
        "requests": sum(statuses.values()),
        "failed": sum(n for status, n in statuses.items() if status >= 300),
        "seconds": time.perf_counter() - started,
    }


def time_to_apply_all(timeout: float = 60) -> float:
    """Seconds until no report waits (the worker applied them all)."""
    from campaigns.models import DeliveryReport

    waiting = DeliveryReport.objects.filter(state=DeliveryReport.State.WAITING)
    started = time.perf_counter()
    while waiting.exists() and time.perf_counter() - started < timeout:
        time.sleep(0.01)
    return time.perf_counter() - started


@contextmanager
def database(kind: str) -> Iterator[None]:
    """DATABASE_URL for this process and the servers it starts: the SQLite file
    common.configure() chose, or a throwaway PostgreSQL that dies with it."""
    if kind == "sqlite":
        yield
        return
    from bench.bench_scale_out import child_of_this_process
    from tests import servers

    with servers.postgres_server(preexec_fn=child_of_this_process()) as server:
        os.environ["DATABASE_URL"] = server.url
        yield


def timed(client, load: Load) -> dict:
    run = client(load)
    run["rps"] = (run["requests"] - run["failed"]) / run["seconds"]
    return run


def measure(client, load: Load) -> dict:
    """A short warm-up on the last quarter of the messages, then the timed run."""
    client(replace(load, seconds=min(2.0, load.seconds), start=load.total * 3 // 4))
    return timed(client, load)


def alternate(client, trivial: Load, dlr: Load, rounds: int) -> list[tuple]:
    """(trivial, dlr) runs taken in turn, so that a machine that speeds up or
    slows down meanwhile weighs on both alike; each dlr run reports on messages
    of its own."""
    client(replace(trivial, seconds=2.0))
    client(replace(dlr, seconds=2.0, start=dlr.total * 3 // 4))
    share = dlr.total * 3 // 4 // rounds
    return [
        (timed(client, trivial), timed(client, replace(dlr, start=n * share)))
        for n in range(rounds)
    ]


def describe(name: str, run: dict) -> str:
    return (
        f"{name}: {run['requests']:,} requests in {run['seconds']:.1f} s, "
        f"{run['failed']:,} not 2xx, {run['rps']:,.0f} successful/s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--database", choices=sorted(TARGETS), default="sqlite")
    parser.add_argument(
        "--gunicorn", default=GUNICORN, help=f"gunicorn options (default {GUNICORN!r})"
    )
    options = parser.parse_args(argv)
    wrk = options.client == "wrk" or (
        options.client == "auto" and shutil.which("wrk") is not None
    )
    client = load_wrk if wrk else load_python
    workdir = common.configure(settings_module="bench.settings_bench")
    with database(options.database):
        return run(options, client, wrk, workdir)


def run(options, client, wrk: bool, workdir: Path) -> int:
    common.setup_django()
    from campaigns.models import DeliveryReport, Message

    # A quarter more, for the plain ORM view's reports: messages of their own.
    token = make_sent_messages(options.messages * 5 // 4)
    worker = CeleryWorker(workdir)
    server = Gunicorn(workdir, options.gunicorn)
    try:
        load = Load(
            url=server.base + "/bench/trivial/",
            seconds=options.seconds,
            connections=options.connections,
            total=options.messages,
        )
        unwritten = measure(
            client, replace(load, url=f"{server.base}/bench/unwritten/{token}/")
        )
        runs = alternate(
            client,
            load,
            replace(load, url=f"{server.base}/dlr/{token}/"),
            options.rounds,
        )
        plain = measure(
            client,
            Load(
                url=f"{server.base}/bench/plain/{token}/",
                seconds=options.seconds,
                connections=options.connections,
                total=options.messages * 5 // 4,
                start=options.messages,
            ),
        )
        catching_up = time_to_apply_all()
    finally:
        server.stop()
        worker.stop()
    # The round of median ratio: each round compares two runs side by side.
    trivial, dlr = (
        run["rps"]
        for run in sorted(runs, key=lambda pair: pair[1]["rps"] / pair[0]["rps"])[
            len(runs) // 2
        ]
    )
    delivered = Message.objects.filter(status=Message.Status.DELIVERED).count()
    details = [
        f"{options.database}; gunicorn {options.gunicorn} and a Celery worker, "
        f"{options.connections} "
        f"client connections, {'wrk' if wrk else 'Python client'}; "
        f"{options.rounds} rounds of {options.seconds:g} s on each URL in turn "
        "after a warm-up; the figures are those of the round of median ratio",
        *(
            describe(f"round {n}: trivial view", t)
            + "; "
            + describe("/dlr/<token>/", d).replace(" requests in", " in")
            + f" ({d['rps'] / t['rps']:.2f}x)"
            for n, (t, d) in enumerate(runs, start=1)
        ),
        describe("the callback up to its writes", unwritten)
        + f" ({unwritten['rps'] / trivial:.2f}x of that round's trivial view)",
        describe("the same callback as a plain ORM view", plain)
        + f" ({plain['rps'] / trivial:.2f}x of that round's trivial view; "
        f"smsbridge {dlr / plain['rps']:.2f}x of it)",
        f"the last callback was applied {catching_up:.2f} s after the load stopped; "
        f"{delivered:,} messages DELIVERED, "
        f"{DeliveryReport.objects.count():,} callbacks logged (warm-ups included)",
    ]
    results = Counter(DeliveryReport.objects.values_list("state", "result").iterator())
    details += [
        f"callbacks {state} x{n:,}: {text}"
        for (state, text), n in results.most_common(3)
    ]
    details += server.errors()
    return common.finish(
        common.Result(
            bench="dlr_ingestion"
            + ("_postgres" if options.database == "postgres" else ""),
            title="8x8 delivery receipts POSTed to /dlr/<token>/ under gunicorn, "
            f"on {options.database}",
            ours=dlr,
            floor=trivial,
            unit="requests/s",
            target=TARGETS[options.database],
            lower_is_better=False,
            details=details,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
