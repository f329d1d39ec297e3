"""Throwaway PostgreSQL and Redis servers on free ports of 127.0.0.1, for the
tests that need a real one and for the scale-out benchmark.

Each is started by a context manager that yields it once it answers, and stops
it (and removes its files) on the way out, however the block ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple


class Server(NamedTuple):
    url: str
    process: subprocess.Popen


class NotInstalled(RuntimeError):
    """The server's binaries are not on this machine."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(
    process: subprocess.Popen,
    ready: Callable[[], bool],
    *,
    what: str,
    seconds: float,
    stop: Callable[[], object] | None = None,
) -> Iterator[None]:
    """Wait until `ready()` says the server answers, hand over, then stop it
    (with `stop`, or SIGTERM)."""
    try:
        deadline = time.monotonic() + seconds
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer within {seconds:g} s")
            time.sleep(0.05)
        yield
    finally:
        if process.poll() is None:
            (stop or process.terminate)()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def redis_server(**popen) -> Iterator[Server]:
    """Its URL has no database number. `popen` goes to Popen (e.g. a preexec_fn
    that ties the server's life to the caller's)."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise NotInstalled(
            "redis-server is not installed (apt-get install redis-server)"
        )
    folder, port = Path(tempfile.mkdtemp(prefix="smsbridge-redis-")), free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own arguments
        [binary, "--port", str(port), "--bind", "127.0.0.1"]
        + ["--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **popen,
    )
    client = redis.Redis(port=port, socket_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        with running(process, answers, what="redis-server", seconds=10):
            yield Server(f"redis://127.0.0.1:{port}", process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_server(**popen) -> Iterator[Server]:
    """Its URL is for DATABASE_URL (database `postgres`, trust authentication,
    no fsync). Run as the postgres user when we are root, which PostgreSQL refuses
    to run as; stopped with a fast shutdown, which cuts clients off."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not binaries:
        raise NotInstalled("PostgreSQL is not installed (apt-get install postgresql)")
    bin_dir = binaries[-1]
    folder = Path(tempfile.mkdtemp(prefix="smsbridge-postgres-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    try:
        subprocess.run(  # noqa: S603 - a fixed binary and our own arguments
            [*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust"]
            + ["-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own arguments
            [*as_owner, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
            + [
                "-k",
                str(folder),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **popen,
        )
        ready = [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]

        def answers() -> bool:
            done = subprocess.run(ready, capture_output=True, check=False)  # noqa: S603
            return done.returncode == 0

        def fast_shutdown() -> None:
            # Through pg_ctl: a signal would reach runuser, not the server, and
            # SIGTERM would wait for clients to leave.
            subprocess.run(  # noqa: S603 - a fixed binary and our own arguments
                [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "stop"]
                + ["-m", "fast", "-w", "-t", "20"],
                capture_output=True,
                timeout=30,
                check=False,
            )

        with running(
            process, answers, what="PostgreSQL", seconds=30, stop=fast_shutdown
        ):
            yield Server(f"postgres://postgres@127.0.0.1:{port}/postgres", process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
