"""campaigns.writers: SQLite writers wait their turn on a file lock, and each
write transaction still commits or rolls back as a whole."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest
from django.db import connection, transaction

from campaigns.models import OptOut
from campaigns.writers import lock_path, one_writer


@pytest.mark.django_db(transaction=True)
def test_a_second_writer_waits_until_the_first_commits() -> None:
    holding, release = threading.Event(), threading.Event()
    seen_by_second: list[int] = []

    def first() -> None:
        try:
            with one_writer():
                OptOut.objects.create(to="+6591111111")
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    def second() -> None:
        try:
            with one_writer():
                # Only once the first has committed is this reached.
                seen_by_second.append(OptOut.objects.count())
                OptOut.objects.create(to="+6592222222")
        finally:
            connection.close()

    a = threading.Thread(target=first)
    a.start()
    assert holding.wait(timeout=10)
    assert file_is_locked(lock_path())
    b = threading.Thread(target=second)
    b.start()
    b.join(timeout=0.5)
    assert b.is_alive(), "the second writer went in while the first held the lock"

    release.set()
    a.join(timeout=10)
    b.join(timeout=10)
    assert seen_by_second == [1]
    assert OptOut.objects.count() == 2
    assert not file_is_locked(lock_path())


def file_is_locked(path: str) -> bool:
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_failed_write_rolls_back_and_frees_the_lock() -> None:
    def fails_halfway() -> None:
        with one_writer():
            OptOut.objects.create(to="+6591111111")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fails_halfway()

    with one_writer():
        OptOut.objects.create(to="+6592222222")
    assert list(OptOut.objects.values_list("to", flat=True)) == ["+6592222222"]


@pytest.mark.django_db(transaction=True)
def test_the_lock_sits_beside_the_database_file() -> None:
    assert lock_path() == str(connection.settings_dict["NAME"]) + ".writers"
    with transaction.atomic():
        # Already in a transaction: taking the lock now could wait on ourselves.
        assert lock_path() is None
