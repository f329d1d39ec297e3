"""campaigns 0009: callbacks an earlier version accepted into the file beside
SQLite, and had not applied when it stopped, become waiting reports."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from .conftest import BASE_DIR

MAKE_PROVIDER = """
from providers.models import Provider
print(Provider.objects.create(nickname="8x8", endpoint="https://8.8.8.8/x").pk)
"""


def migrate(file_db, *target: str) -> None:
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "migrate", "--noinput", *target],
        cwd=BASE_DIR,
        env=file_db.env(),
        capture_output=True,
        check=True,
        timeout=120,
    )


def spooled_line(provider_id: int, receipt: uuid.UUID, message_id: str) -> str:
    # As the earlier version wrote it: values in field order, updates as lists.
    update = [message_id, "", "delivered", "", "", None, "delivered", "status", ""]
    return json.dumps(
        [provider_id, "POST", "application/json", "{}", "8x8", [update]]
        + [receipt.hex, "2026-12-01T10:00:00+00:00"]
    )


def test_callbacks_waiting_in_the_old_spool_are_kept_as_waiting_reports(
    file_db,
) -> None:
    migrate(file_db, "campaigns", "0008")
    provider_id = int(file_db.run(MAKE_PROVIDER))
    inbox = file_db.path.parent / f"{file_db.path.name}-inbox"
    inbox.mkdir()
    taken, waiting = uuid.uuid4(), uuid.uuid4()
    (inbox / "taken-00000000000000000001").write_text(
        spooled_line(provider_id, taken, "a" * 32) + "\n"
    )
    (inbox / "waiting").write_text(
        "\n" + spooled_line(provider_id, waiting, "b" * 32) + '\n{"cut short\n'
    )

    migrate(file_db)

    rows = file_db.rows(
        "SELECT receipt, state, updates FROM campaigns_deliveryreport ORDER BY id"
    )
    assert [(r[0], r[1]) for r in rows] == [
        (taken.hex, "waiting"),
        (waiting.hex, "waiting"),
    ]
    assert json.loads(rows[1][2])[0]["message_id"] == "b" * 32
    assert sorted(p.name for p in inbox.iterdir()) == [
        "adopted-taken-00000000000000000001",
        "adopted-waiting",
    ]
