"""campaigns.writers: one holder of the writers' lock at a time, across threads;
the others are told at once."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from django.db import connection, transaction

from campaigns.writers import lock_path, writers_turn


def hold_in_another_thread() -> tuple[threading.Event, threading.Event]:
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with writers_turn() as ours:
                assert ours
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    threading.Thread(target=holder, daemon=True).start()
    assert holding.wait(timeout=10)
    return holding, release


@pytest.mark.django_db(transaction=True)
def test_a_second_holder_is_told_at_once_that_the_lock_is_taken() -> None:
    _, release = hold_in_another_thread()
    try:
        assert file_is_locked(lock_path())
        with writers_turn() as ours:
            assert ours is False
    finally:
        release.set()


@pytest.mark.django_db(transaction=True)
def test_the_lock_is_free_again_once_its_holder_lets_go() -> None:
    _, release = hold_in_another_thread()
    release.set()
    deadline = time.monotonic() + 10
    while file_is_locked(lock_path()) and time.monotonic() < deadline:
        time.sleep(0.01)

    with writers_turn() as ours:
        assert ours is True


@pytest.mark.django_db(transaction=True)
def test_an_error_inside_lets_the_lock_go() -> None:
    with pytest.raises(RuntimeError), writers_turn():
        raise RuntimeError("boom")

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
def test_the_lock_sits_beside_the_database_file() -> None:
    assert lock_path() == str(connection.settings_dict["NAME"]) + ".writers"
    with transaction.atomic():
        # Already in a transaction: taking the lock now could wait on ourselves.
        assert lock_path() is None
