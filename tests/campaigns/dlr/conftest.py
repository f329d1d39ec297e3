"""Every test of the delivery-report path runs twice: on SQLite, and on a real
PostgreSQL started once per session (tests/servers.py) and migrated once.

The `database` parameter makes PostgreSQL the default database for the test's
duration, before pytest-django wraps the test in its transaction (`db`) or
flushes after it (`transactional_db`); threads the test starts connect to it
too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import environ
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection, connections

from ..conftest import SQLITE_OPTIONS, FileDb


@contextmanager
def default_database(settings_dict: dict[str, Any]) -> Iterator[None]:
    """The default database is the one `settings_dict` describes, in this thread
    and in every connection opened meanwhile."""
    saved_settings = connections.settings[DEFAULT_DB_ALIAS]
    saved = connections[DEFAULT_DB_ALIAS]
    connections.settings[DEFAULT_DB_ALIAS] = settings_dict
    replacement = connections.create_connection(DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = replacement
    # Content types are cached by alias, and the two databases number them
    # differently: a cached id would name another model (or none) in the other.
    ContentType.objects.clear_cache()
    try:
        yield
    finally:
        replacement.close()
        connections[DEFAULT_DB_ALIAS] = saved
        connections.settings[DEFAULT_DB_ALIAS] = saved_settings
        ContentType.objects.clear_cache()


@pytest.fixture(scope="session")
def postgres_settings(postgres_server, django_db_setup, django_db_blocker) -> dict:
    """Connection settings of the session's PostgreSQL, migrated."""
    config = {**environ.Env.db_url_config(postgres_server), "CONN_MAX_AGE": 0}
    settings_dict = connections.configure_settings({DEFAULT_DB_ALIAS: config})
    with django_db_blocker.unblock(), default_database(settings_dict["default"]):
        call_command("migrate", verbosity=0, interactive=False)
    return settings_dict["default"]


@pytest.fixture(autouse=True, params=["sqlite", "postgresql"])
def database(request, django_db_setup) -> Iterator[str]:
    if request.param == "sqlite":
        yield request.param
        return
    with default_database(request.getfixturevalue("postgres_settings")):
        yield request.param


@pytest.fixture
def _django_db_helper(database, _django_db_helper) -> None:
    """pytest-django's own, which opens the test's transaction (or flushes after
    it), once the database is chosen: a django_db mark or a live server asks for
    it before any fixture of ours would otherwise run."""


@dataclass(frozen=True)
class SharedDb(FileDb):
    """The test's database, for Django processes the test starts: commit what
    they should see (`transactional_db`)."""

    database_url: str = ""

    @property
    def url(self) -> str:
        return self.database_url


@pytest.fixture
def shared_db(request, database) -> SharedDb:
    if database == "postgresql":
        return SharedDb(Path(), request.getfixturevalue("postgres_server"))
    path = Path(connection.settings_dict["NAME"])
    return SharedDb(path, f"sqlite:///{path}?{SQLITE_OPTIONS}")
