"""Queue SQLite writers in the kernel instead of letting them poll.

SQLite lets one connection write at a time. A connection that finds the write
lock taken sleeps in its busy handler (1, 2, 5, 10 ... 100 ms) and tries again,
so when callbacks arrive a few thousand a second most of their time goes to
sleeping while a write that takes a tenth of a millisecond is long finished.
Taking an exclusive file lock beside the database first makes writers wait in
line and wake as soon as the one before them lets go, across threads and
processes alike. Writers that do not take it (a Celery worker recording
outcomes) are still kept safe by SQLite's own lock; they just wait the old way.
On other databases this does nothing: they have row locks.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

_local = threading.local()


@contextmanager
def one_writer() -> Iterator[None]:
    """A write transaction that waits its turn without polling."""
    path = lock_path()
    if path is None:
        with transaction.atomic():
            yield
        return
    descriptor = lock_file(path)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        with transaction.atomic():
            yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def lock_path() -> str | None:
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        # Inside a transaction already (as in tests), the lock would come too
        # late to help and could wait on a transaction of the same thread.
        return None
    name = str(connection.settings_dict["NAME"])
    if connection.is_in_memory_db() or not name:
        return None
    return name + ".writers"


def lock_file(path: str) -> int:
    """One descriptor per thread and path: flock excludes separate opens of a
    file, even within one process, but not two holders of the same one."""
    files = _local.__dict__.setdefault("files", {})
    if path not in files:
        files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return files[path]
