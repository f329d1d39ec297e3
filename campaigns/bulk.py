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

from django.db import connection, models
from django.utils import timezone

BATCH = 5000


def insert_rows(
    model: type[models.Model],
    *,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    constants: Mapping[str, Any],
) -> int:
    """Insert rows whose `columns` vary; every other field takes `constants` or
    its default. Varying values must already be in their database form."""
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
    written = 0
    rows = iter(rows)
    with connection.cursor() as cursor:
        while batch := [(*row, *fixed_values) for row in islice(rows, BATCH)]:
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def prepared(field: models.Field, constants: Mapping[str, Any]) -> Any:
    if field.attname in constants:
        value = constants[field.attname]
    elif getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        value = timezone.now()
    else:
        value = field.get_default()
    return field.get_db_prep_save(value, connection)
