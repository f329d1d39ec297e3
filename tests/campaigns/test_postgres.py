"""The delivery-report path on PostgreSQL, as README's scale-out runs it: there
is no inbox there, each callback is applied before it is answered, and the SQL
that campaigns.statements writes from the models must suit PostgreSQL too.

The tests of the callback, of the statements and of tracking run again, in a
pytest of their own, against a real PostgreSQL server.
"""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import BASE_DIR

AGAIN_ON_POSTGRES = [
    "tests/campaigns/test_dlr_callback.py",
    "tests/campaigns/test_statements.py",
    "tests/campaigns/test_tracking.py",
    "tests/campaigns/test_untrusted_input.py",
]


def run(command: list[str], url: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter, code and test files
        [sys.executable, *command],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_delivery_reports_work_the_same_on_postgresql(postgres_server) -> None:
    vendor = "import django; django.setup(); from django.db import connection; "
    vendor += "print(connection.vendor)"
    assert run(["-c", vendor], postgres_server).stdout.strip() == "postgresql"

    done = run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", *AGAIN_ON_POSTGRES],
        postgres_server,
    )

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    summary = done.stdout.splitlines()[-1]
    assert " passed" in summary
    assert "skipped" not in summary
