"""The file beside a SQLite database where accepted delivery-report callbacks
wait to be applied (campaigns.intake decides when).

Each callback is one line, appended with a single write(2) on a file opened
for appending, so lines from many processes never interleave and a line is
safe once the call returns, even if the process dies the next instant. Lines
are taken by renaming the file while holding a lock that every append holds
shared, so no append can land in a file that is already being read. A taken
file is deleted only once its lines are applied; one left behind by a crash is
taken again, oldest first. All of it lives in the folder `<database>-inbox/`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections

from .writers import lock_file

logger = logging.getLogger(__name__)


class Inbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.waiting_file = str(folder / "waiting")
        self.guard_file = str(folder / "guard")
        self.rejected_file = folder / "rejected"
        self.last_taken = folder / "last-taken"  # its time of change says when

    def append(self, line: bytes) -> None:
        """Add one line. It is written between newlines, so a line cut short by
        a full disk stays apart from the next one; OSError if it was cut short."""
        record = b"\n" + line + b"\n"
        try:
            written = self._write(record)
        except FileNotFoundError:  # the first callback: make the folder
            self.folder.mkdir(mode=0o700, exist_ok=True)
            written = self._write(record)
        if written != len(record):
            raise OSError(f"only {written} of {len(record)} bytes were written")

    def _write(self, record: bytes) -> int:
        guard = lock_file(self.guard_file)
        fcntl.flock(guard, fcntl.LOCK_SH)  # (spelt out: this runs per callback)
        try:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
            descriptor = os.open(self.waiting_file, flags, 0o600)
            try:
                return os.write(descriptor, record)
            finally:
                os.close(descriptor)
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)

    def has_waiting(self) -> bool:
        return self._lines_waiting() or bool(self._taken())

    def due(self, every: float) -> bool:
        """Lines wait and none were taken for `every` seconds, or a crash left
        some taken but not applied."""
        if not self._lines_waiting():
            return bool(self._taken())
        try:
            return time.time() - os.stat(self.last_taken).st_mtime >= every
        except FileNotFoundError:
            return True

    def _lines_waiting(self) -> bool:
        try:
            return os.stat(self.waiting_file).st_size > 0
        except FileNotFoundError:
            return False

    def take(self) -> list[Path]:
        """The files of lines to apply, oldest first: any a crash left behind,
        then the waiting lines, renamed so that appends start a new file."""
        if not self.folder.is_dir():
            return []
        taken = self._taken()
        with self._guard(fcntl.LOCK_EX):
            if self._lines_waiting():
                name = self.folder / f"taken-{time.time_ns():020d}"
                os.rename(self.waiting_file, name)
                taken.append(name)
                self.last_taken.touch()
        return taken

    @staticmethod
    def lines(taken: Path) -> Iterator[bytes]:
        with taken.open("rb") as file:
            for line in file:
                if line.strip():
                    yield line.rstrip(b"\n")

    @staticmethod
    def done(taken: Path) -> None:
        taken.unlink()

    def reject(self, line: bytes, reason: str) -> None:
        """Keep a line that cannot be applied, for a person to look at."""
        logger.error(
            "A delivery-report callback (%d bytes) could not be applied; "
            "it is kept in %s: %s",
            len(line),
            self.rejected_file,
            reason,
        )
        with self.rejected_file.open("ab") as file:
            file.write(line + b"\n")

    def _taken(self) -> list[Path]:
        return sorted(self.folder.glob("taken-*"))

    @contextmanager
    def _guard(self, mode: int) -> Iterator[None]:
        descriptor = lock_file(self.guard_file)
        fcntl.flock(descriptor, mode)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


_made: dict[str, Inbox | None] = {}


def inbox() -> Inbox | None:
    """The inbox of a SQLite file database; None where the database has row
    locks (callbacks are applied at once there) or lives in memory."""
    database = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy costs
    name = str(database.settings_dict["NAME"])
    if name not in _made:
        _made[name] = (
            Inbox(Path(name + "-inbox"))
            if database.vendor == "sqlite" and name and not database.is_in_memory_db()
            else None
        )
    return _made[name]
