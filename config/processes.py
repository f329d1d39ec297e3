"""`make run`'s three processes: the web server, a Celery worker and the beat
that runs the sweeper, started together and stopped together.

Each is a single process (no autoreloader, a thread-pool worker, beat on its
own rather than inside the worker), and the kernel stops each one when this
process dies, however it died (PR_SET_PDEATHSIG). When any of them exits the
others are stopped, so killing any one leaves nothing running behind it.

    python -m config.processes 8000
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


def commands(port: str) -> dict[str, tuple[list[str], Path | None]]:
    """Name -> (command line, log file or None for this terminal)."""
    python = sys.executable
    celery = str(Path(python).with_name("celery"))
    var = BASE_DIR / "var"
    return {
        "web": (
            [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            None,
        ),
        "worker": (
            [celery, "-A", "config", "worker", "--pool=threads", "--concurrency=2"]
            + ["--loglevel=INFO"],
            var / "worker.log",
        ),
        "beat": (
            [celery, "-A", "config", "beat", "--loglevel=INFO"]
            + ["--schedule", str(var / "celerybeat-schedule")],
            var / "beat.log",
        ),
    }


def die_with(parent: int) -> None:
    """Run in the child before it starts: be sent SIGTERM when `parent` dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def start(command: list[str], log: Path | None) -> subprocess.Popen:
    parent = os.getpid()
    output = log.open("a") if log else None
    return subprocess.Popen(  # noqa: S603 - our own interpreter, celery and arguments
        command,
        cwd=BASE_DIR,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        preexec_fn=lambda: die_with(parent),  # noqa: PLW1509 - no threads yet
    )


def stop(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 10
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run(port: str) -> int:
    children: dict[str, subprocess.Popen] = {}

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, (command, log) in commands(port).items():
            children[name] = start(command, log)
            where = f" (log: {log.relative_to(BASE_DIR)})" if log else ""
            print(f"Started the {name}{where}", flush=True)
        while True:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    print(
                        f"The {name} stopped (exit code {code}); stopping the rest.",
                        file=sys.stderr,
                        flush=True,
                    )
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop(children)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else "8000"))
