"""Queries for the delivery-report path, written once per process from the models.

A callback does the same few things every time: find its provider, find the
messages it names, move them forward, log the callback. Through the ORM each of
those is rebuilt from a queryset on every request, about 1 ms of Python per
callback against well under 0.1 ms for the queries themselves, and callbacks
come by the thousand per second. Here the SQL is written once from the models'
own table and column names and the values pass through each field's own
conversions, so instances come out as the ORM would make them (fields left out
are deferred).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def fetch(
    model: type[M], fields: Sequence[str], where: str, params: Sequence[Any]
) -> list[M]:
    """Instances of `model` with `fields` loaded, for a WHERE clause written with
    column names. The primary key is always loaded."""
    sql, names, converters = select(model, tuple(fields), where)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        model.from_db(
            connection.alias,
            names,
            [convert(value) for convert, value in zip(converters, row, strict=True)],
        )
        for row in rows
    ]


def update(instance: models.Model, fields: Sequence[str]) -> None:
    """Write those of `fields` that were loaded or set since: save(update_fields=...)
    without signals, and without reading deferred fields back first."""
    meta = instance._meta
    present = tuple(f for f in fields if meta.get_field(f).attname in instance.__dict__)
    if not present:
        return
    sql, targets = update_sql(type(instance), present)
    values = [
        f.get_db_prep_save(f.pre_save(instance, False), connection) for f in targets
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])


def insert(instance: models.Model) -> None:
    """Insert a new instance, defaults and auto_now_add included; its primary
    key is not read back."""
    sql, targets = insert_sql(type(instance))
    values = [
        f.get_db_prep_save(f.pre_save(instance, True), connection) for f in targets
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


# --- written once per model and shape ---------------------------------------------


def quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[models.Model]) -> str:
    return quoted(model._meta.db_table)


def column(model: type[models.Model], name: str) -> str:
    return quoted(model._meta.get_field(name).column)


@lru_cache(maxsize=256)  # one entry per shape of WHERE clause
def select(
    model: type[models.Model], fields: tuple[str, ...], where: str
) -> tuple[str, list[str], list[Callable[[Any], Any]]]:
    meta = model._meta
    wanted = {meta.pk, *(meta.get_field(name) for name in fields if name != "pk")}
    # Model.from_db takes the values in the model's order of fields.
    chosen = [field for field in meta.concrete_fields if field in wanted]
    columns = ", ".join(quoted(field.column) for field in chosen)
    sql = f"SELECT {columns} FROM {table(model)} WHERE {where}"  # noqa: S608
    return sql, [field.attname for field in chosen], [converter(f) for f in chosen]


def converter(field: models.Field) -> Callable[[Any], Any]:
    """What the ORM does to a value read from the database for this field."""
    column = field.get_col(field.model._meta.db_table)
    steps = connection.ops.get_db_converters(column) + column.get_db_converters(
        connection
    )

    def convert(value: Any) -> Any:
        for step in steps:
            value = step(value, column, connection)
        return value

    return convert


@cache
def update_sql(
    model: type[models.Model], fields: tuple[str, ...]
) -> tuple[str, list[models.Field]]:
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quoted(f.column)} = %s" for f in targets)
    pk = quoted(meta.pk.column)
    sql = f"UPDATE {table(model)} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    return sql, targets


@cache
def insert_sql(model: type[models.Model]) -> tuple[str, list[models.Field]]:
    meta = model._meta
    targets = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quoted(f.column) for f in targets)
    values = placeholders(len(targets))
    sql = f"INSERT INTO {table(model)} ({columns}) VALUES ({values})"  # noqa: S608
    return sql, targets
