"""The deployment files say what README's "One machine, then many" says, and
each of its commands starts on this machine.

compose.yaml, the Procfile and the Dockerfile must run the very commands of
README's scale-out block. Then each command is started natively, as the
containers would start it, against a throwaway PostgreSQL and Redis: the
migrations and collectstatic run, the worker logs that it is ready, beat that
it is starting, and gunicorn answers /healthz with 200 (the worker's heartbeat
fresh) and a static file through whitenoise; once the worker stops, /healthz
turns 503. Every process logs JSON (LOG_FORMAT=json), one object a line.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests import servers

from .campaigns.conftest import BASE_DIR, postgres_server, redis_server

# The throwaway servers' fixtures, for this module too.
__all__ = ["postgres_server", "redis_server"]

Command = list[str]


# --- what each file says ------------------------------------------------------------


def role(command: Command) -> str:
    """What a command is for: web, worker, beat, or what manage.py or pip does."""
    if command[:2] == ["python", "manage.py"]:
        return command[2]
    if command[0] == "celery":
        return command[3]
    return {"gunicorn": "web", "pip": "install"}[command[0]]


def readme_commands() -> dict[str, Command]:
    section = (
        (BASE_DIR / "README.md").read_text().split("### One machine, then many")[1]
    )
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    found = {}
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()  # a comment after two spaces
        if not line or line.startswith("export "):
            continue
        for part in line.split("&&"):
            command = shlex.split(part)
            found[role(command)] = command
    return found


def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "compose.yaml").read_text())


def compose_commands() -> dict[str, Command]:
    services = compose()["services"]
    return {
        name: services[name]["command"] for name in ("migrate", "web", "worker", "beat")
    }


def procfile_commands() -> dict[str, Command]:
    lines = (BASE_DIR / "Procfile").read_text().splitlines()
    return {
        name.strip(): shlex.split(command)
        for name, command in (line.split(":", 1) for line in lines if line.strip())
    }


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments left out."""
    text = (BASE_DIR / "Dockerfile").read_text()
    text = re.sub(r"^\s*#.*\n", "", text, flags=re.M).replace("\\\n", " ")
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip()]


def docker_runs() -> list[Command]:
    return [shlex.split(args) for word, args in dockerfile() if word == "RUN"]


def within(command: Command, run: Command) -> bool:
    return any(
        run[i : i + len(command)] == command for i in range(len(run) - len(command) + 1)
    )


def extras(command: Command) -> set[str]:
    [target] = [word for word in command if word.startswith(".[")]
    return set(target[2:-1].split(","))


# --- the files agree ---------------------------------------------------------------


def test_compose_procfile_and_dockerfile_run_readmes_commands() -> None:
    readme = readme_commands()
    assert set(readme) == {
        "install",
        "migrate",
        "collectstatic",
        "web",
        "worker",
        "beat",
    }
    ours = compose_commands()
    procfile = procfile_commands()
    [cmd] = [json.loads(args) for word, args in dockerfile() if word == "CMD"]

    assert ours["web"] == procfile["web"] == cmd == readme["web"]
    for name in ("worker", "beat"):
        assert ours[name] == procfile[name] == readme[name]
    assert ours["migrate"] == procfile["release"] == readme["migrate"]
    # collectstatic runs when the image is built.
    assert any(within(readme["collectstatic"], run) for run in docker_runs())


def test_the_image_installs_readmes_extras_and_runs_as_a_user() -> None:
    [install] = [run for run in docker_runs() if run[:2] == ["pip", "install"]]
    declared = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())
    available = set(declared["project"]["optional-dependencies"])

    assert extras(readme_commands()["install"]) <= extras(install) <= available
    users = [args for word, args in dockerfile() if word == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    assert [word for word, _ in dockerfile()][-1] == "CMD"


def test_compose_runs_them_on_postgresql_and_redis_after_the_migrations() -> None:
    services = compose()["services"]

    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for name in ("migrate", "web", "worker", "beat"):
        env = services[name]["environment"]
        assert "@db:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


# --- each command starts here ----------------------------------------------------


def native(command: Command, *, port: int) -> Command:
    """README's command as this machine runs it: the project's interpreter and
    scripts, and gunicorn on a free loopback port instead of 0.0.0.0:8000."""
    bin_dir = Path(sys.executable).parent
    command = [sys.executable if word == "python" else word for word in command]
    if command[0] in ("gunicorn", "celery"):
        command[0] = str(bin_dir / command[0])
    return [f"127.0.0.1:{port}" if word == "0.0.0.0:8000" else word for word in command]


class Started:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopped: set[str] = set()

    def start(self, name: str, command: Command, *, cwd: Path, env: dict) -> None:
        with (self.folder / f"{name}.log").open("w") as log:
            self.processes[name] = subprocess.Popen(  # noqa: S603 - README's commands
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def lines(self, name: str) -> list[str]:
        return (self.folder / f"{name}.log").read_text(errors="replace").splitlines()

    def tails(self) -> str:
        return "".join(
            f"\n--- {name} ---\n" + "\n".join(self.lines(name)[-30:])
            for name in self.processes
        )

    def wait_for(
        self, name: str, ready: Callable[[], bool], seconds: float = 60
    ) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            for other, process in self.processes.items():
                if other not in self.stopped:
                    assert process.poll() is None, f"{other} exited{self.tails()}"
            assert time.monotonic() < deadline, f"{name} not ready{self.tails()}"
            time.sleep(0.2)

    def logged(self, name: str, pattern: str) -> bool:
        return any(
            re.search(pattern, json.loads(line)["message"])
            for line in self.lines(name)
            if line.startswith("{")
        )

    def stop(self, name: str) -> None:
        self.stopped.add(name)
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()
    except OSError:
        return 0, b""


@pytest.fixture
def database(postgres_server) -> Iterator[str]:
    import psycopg

    name = f"deploy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_each_command_starts_here(database, redis_server, tmp_path) -> None:
    import redis

    broker = f"{redis_server}/3"
    redis.Redis.from_url(broker).flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_ALLOWED_HOSTS": "sms.example.com",
        "DJANGO_DEBUG": "false",
        "STATIC_ROOT": str(tmp_path / "static"),
        "LOG_FORMAT": "json",
        "CELERY_QUIET": "1",
        "HEALTH_HEARTBEAT_SECONDS": "0.5",
        "HEALTH_WORKER_MAX_AGE_SECONDS": "3",
    }
    # The settings' own choices, as a deployment has them: the cache in Redis,
    # HTTPS required (the proxy's X-Forwarded-Proto says it).
    env.pop("CACHE_URL", None)
    env.pop("DJANGO_SECURE_SSL_REDIRECT", None)
    readme, port = readme_commands(), servers.free_port()
    for step in ("migrate", "collectstatic"):
        done = subprocess.run(  # noqa: S603 - README's commands
            native(readme[step], port=port),
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()

    started = Started(tmp_path)
    # Celery's processes where beat may write its schedule, the code on the path.
    # Tests run as root, which the image's user is not: Celery's warning about
    # it comes before any logging is set up.
    celery_env = {
        **env,
        "PYTHONPATH": str(BASE_DIR),
        "PYTHONWARNINGS": "ignore:You're running the worker with superuser",
    }
    healthz = f"http://127.0.0.1:{port}/healthz"
    try:
        started.start(
            "worker", native(readme["worker"], port=port), cwd=tmp_path, env=celery_env
        )
        started.start(
            "beat", native(readme["beat"], port=port), cwd=tmp_path, env=celery_env
        )
        started.start("web", native(readme["web"], port=port), cwd=BASE_DIR, env=env)
        started.wait_for("worker", lambda: started.logged("worker", r" ready\.$"))
        started.wait_for("beat", lambda: started.logged("beat", r"^beat: Starting"))
        started.wait_for("web", lambda: get(healthz)[0] == 200)

        status, body = get(healthz)
        assert status == 200
        assert json.loads(body)["status"] == "ok"
        # Static files from whitenoise, to the host and scheme a proxy sends.
        status, css = get(
            f"http://127.0.0.1:{port}/static/admin/css/base.css",
            Host="sms.example.com",
            **{"X-Forwarded-Proto": "https"},
        )
        assert status == 200
        assert b"font-family" in css

        started.stop("worker")
        started.wait_for("web", lambda: get(healthz)[0] == 503, seconds=15)
        checks = json.loads(get(healthz)[1])["checks"]
        assert not checks["worker"]["ok"]
        assert checks["broker"]["ok"]
        assert checks["database"]["ok"]
    finally:
        for name in list(started.processes):
            started.stop(name)

    for name in ("worker", "beat", "web"):
        lines = started.lines(name)
        assert lines, name
        if name == "worker":
            # What Celery prints (outside its log) as it stops, then nothing.
            assert lines[-2:] == ["", "worker: Warm shutdown (MainProcess)"]
            lines = lines[:-2]
        for line in lines:
            record = json.loads(line)  # every line, of every process
            assert {"time", "level", "logger", "message"} <= set(record), line
            assert record["level"] != "ERROR", line
