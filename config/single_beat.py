"""One beat at a time. A second beat would send every sweep twice: harmless to
messages (claims are conditional) but a sign of a deployment mistake, so the
second one says so and stops.

The lock is where the broker is: a key in Redis that the running beat keeps
renewing (it lapses a few seconds after that beat dies), or an exclusive lock
on a file beside the filesystem broker's folders (freed by the kernel when the
beat dies).
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from contextlib import suppress
from pathlib import Path

from django.conf import settings

KEY = "smsbridge:beat"
HOLD_SECONDS = 15
_held: list[object] = []  # what keeps the lock for this process's lifetime


def identity() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def take() -> str | None:
    """Take the lock for this process; None if taken, else who holds it."""
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return take_in_redis(url)
    if url.startswith("memory://"):
        return None  # the broker lives in this process: no other beat can use it
    return take_file(Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"]))


def take_file(folder: Path) -> str | None:
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / "beat.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
        os.close(descriptor)
        return holder or "another beat"
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, identity().encode(), 0)
    _held.append(descriptor)
    return None


def take_in_redis(url: str) -> str | None:
    import redis

    client = redis.Redis.from_url(url)
    me = identity()
    if not client.set(KEY, me, nx=True, px=HOLD_SECONDS * 1000):
        holder = client.get(KEY)
        return holder.decode() if holder else "another beat"
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(HOLD_SECONDS / 3):
            # While Redis is away beat itself says so; the lock is taken back
            # when it returns, unless another beat took it meanwhile.
            with suppress(redis.RedisError):
                if client.get(KEY) in (None, me.encode()):
                    client.set(KEY, me, px=HOLD_SECONDS * 1000)

    threading.Thread(target=renew, name="smsbridge-beat-lock", daemon=True).start()
    _held.append(stop)
    return None
