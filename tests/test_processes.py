"""`make run`'s processes (config.processes): killing any one of them, or the
process that started them, leaves nothing running behind it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import processes

from .campaigns.conftest import BASE_DIR
from .servers import free_port

SCRIPT = """
import sys
from pathlib import Path
from config import processes

sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
processes.commands = lambda port: {
    name: (sleeper, None) for name in ("web", "worker", "beat")
}
sys.exit(processes.run("0"))
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not yet reaped is gone for our purpose.
    state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0]
    return state != "Z"


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split(") ")[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def supervisor():
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", SCRIPT],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(lambda: len(children_of(process.pid)) == 3), "3 children"
    children = children_of(process.pid)
    yield process, children
    process.kill()
    for pid in children:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_the_three_processes_are_the_web_server_a_worker_and_beat() -> None:
    commands = processes.commands(str(free_port()))

    web, worker, beat = (commands[name][0] for name in ("web", "worker", "beat"))
    assert web[1:] == ["manage.py", "runserver", web[3], "--noreload"]
    # One process each: a thread pool, and beat outside the worker, so neither
    # leaves a child behind when it is killed.
    assert "--pool=threads" in worker
    assert "--beat" not in worker
    assert "-B" not in worker
    assert beat[1:4] == ["-A", "config", "beat"]


def test_killing_one_process_stops_the_others(supervisor) -> None:
    process, (first, *rest) = supervisor

    os.kill(first, signal.SIGKILL)

    assert process.wait(timeout=15) != 0
    assert "stopped (exit code -9); stopping the rest" in process.stderr.read()
    assert not any(alive(pid) for pid in rest)


def test_killing_the_starter_stops_every_process(supervisor) -> None:
    process, children = supervisor

    process.kill()
    process.wait(timeout=5)

    assert wait_for(lambda: not any(alive(pid) for pid in children))
