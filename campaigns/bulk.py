"""Inserting many rows fast: one prepared INSERT run per row (executemany).

bulk_create prepares every field of every row through the ORM, which costs more
than the insert itself for a 100,000-recipient launch. Here the values that are
the same for every row (and every column's default) are prepared once; the rows
supply only what varies, as plain strings and numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from django.db import NotSupportedError, connection, models
from django.utils import timezone

BATCH = 5000


def insert_rows(
    model: type[models.Model],
    *,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    constants: Mapping[str, Any],
    skip_conflicts: bool = False,
) -> int:
    """Insert rows whose `columns` vary; every other field takes `constants` or
    its default. Varying values must already be in their database form.

    With `skip_conflicts`, a row that a unique constraint refuses is left out
    (ON CONFLICT DO NOTHING). Returns the number of rows inserted."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    fixed = [f for f in fields if f.attname not in columns]
    fixed_values = [prepared(f, constants) for f in fixed]
    names = [*columns, *(f.column for f in fixed)]
    table = connection.ops.quote_name(model._meta.db_table)
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (names from the model)
        table,
        ", ".join(connection.ops.quote_name(n) for n in names),
        ", ".join(["%s"] * len(names)),
    )
    if skip_conflicts:
        sql += conflicts_skipped()
    written = 0
    rows = iter(rows)
    with connection.cursor() as cursor:
        while batch := [(*row, *fixed_values) for row in islice(rows, BATCH)]:
            cursor.executemany(sql, batch)
            # Summed over the batch by sqlite3 and psycopg alike; rows skipped
            # on a conflict are not counted.
            written += cursor.rowcount
    return written


def conflicts_skipped() -> str:
    # Not Django's on_conflict=IGNORE: on SQLite that is INSERT OR IGNORE, which
    # would also drop rows breaking a NOT NULL or CHECK constraint.
    if connection.vendor not in ("sqlite", "postgresql"):
        raise NotSupportedError(f"ON CONFLICT DO NOTHING on {connection.vendor}")
    return " ON CONFLICT DO NOTHING"


def prepared(field: models.Field, constants: Mapping[str, Any]) -> Any:
    if field.attname in constants:
        value = constants[field.attname]
    elif getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        value = timezone.now()
    else:
        value = field.get_default()
    return field.get_db_prep_save(value, connection)
