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
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, TypeVar
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.constants import OnConflict
from django.db.models.fields import AutoFieldMixin

M = TypeVar("M", bound=models.Model)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def fetch(
    model: type[M], fields: Sequence[str], where: str, params: Sequence[Any]
) -> list[M]:
    """Instances of `model` with `fields` loaded, for a WHERE clause written with
    column names. The primary key is always loaded."""
    sql, names, converters = select(model, tuple(fields), where)
    db = this_thread()
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        model.from_db(
            db.alias,
            names,
            [
                convert(value, db)
                for convert, value in zip(converters, row, strict=True)
            ],
        )
        for row in rows
    ]


def update(instance: models.Model, fields: Sequence[str]) -> None:
    """Write those of `fields` that were loaded or set since: save(update_fields=...)
    without signals, and without reading deferred fields back first."""
    update_many([instance], fields)


def update_many(instances: Sequence[models.Model], fields: Sequence[str]) -> None:
    """update() for many instances: one statement per model and set of fields
    present, run once over all the rows that share it."""
    rows: dict[str, list[list[Any]]] = {}
    db = this_thread()
    for instance in instances:
        loaded = instance.__dict__
        named = attnames(type(instance), tuple(fields))
        present = tuple(name for name, attname in named if attname in loaded)
        if present:
            sql, targets = update_sql(type(instance), present)
            values = [prepare(instance, False, db) for prepare in targets]
            rows.setdefault(sql, []).append([*values, instance.pk])
    with db.cursor() as cursor:
        for sql, params in rows.items():
            cursor.executemany(sql, params)


def insert(instance: models.Model) -> None:
    """Insert a new instance, defaults and auto_now_add included; its primary
    key is not read back."""
    insert_many([instance])


def insert_many(
    instances: Sequence[models.Model], *, skip_duplicates: bool = False
) -> None:
    """insert() for many instances of one model in one statement run over all
    rows. With `skip_duplicates`, a row that would break a unique constraint is
    left out, as bulk_create(ignore_conflicts=True) does."""
    if not instances:
        return
    sql, targets = insert_sql(type(instances[0]), skip_duplicates)
    db = this_thread()
    rows = [
        [prepare(instance, True, db) for prepare in targets] for instance in instances
    ]
    with db.cursor() as cursor:
        cursor.executemany(sql, rows)


@cache
def attnames(
    model: type[models.Model], fields: tuple[str, ...]
) -> list[tuple[str, str]]:
    return [(name, model._meta.get_field(name).attname) for name in fields]


def this_thread():
    """The calling thread's connection. Each use of django.db.connection looks
    it up again, which adds up over thousands of values."""
    return connections[DEFAULT_DB_ALIAS]


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


def converter(field: models.Field) -> Callable[[Any, Any], Any]:
    """What the ORM does to a value read from the database for this field."""
    column = field.get_col(field.model._meta.db_table)
    steps = connection.ops.get_db_converters(column) + column.get_db_converters(
        connection
    )

    def convert(value: Any, db) -> Any:
        for step in steps:
            value = step(value, column, db)
        return value

    return convert


@cache
def update_sql(
    model: type[models.Model], fields: tuple[str, ...]
) -> tuple[str, list[Preparer]]:
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quoted(f.column)} = %s" for f in targets)
    pk = quoted(meta.pk.column)
    sql = f"UPDATE {table(model)} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    return sql, [preparer(f) for f in targets]


@cache
def insert_sql(
    model: type[models.Model], skip_duplicates: bool = False
) -> tuple[str, list[Preparer]]:
    meta = model._meta
    targets = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quoted(f.column) for f in targets)
    values = placeholders(len(targets))
    conflict = OnConflict.IGNORE if skip_duplicates else None
    statement = connection.ops.insert_statement(on_conflict=conflict)
    suffix = connection.ops.on_conflict_suffix_sql(targets, conflict, None, None)
    sql = f"{statement} {table(model)} ({columns}) VALUES ({values}) {suffix}"
    return sql.rstrip(), [preparer(f) for f in targets]


Preparer = Callable[[models.Model, bool, Any], Any]
# Fields whose own conversions leave a str as it is.
TEXT = (models.CharField, models.TextField)


def preparer(field: models.Field) -> Preparer:
    """What save() does to a field's value on its way to the database, without
    the trip through the field's methods where it is known where that ends: a
    str for text and an int for a key stay as they are, another int goes to
    the backend's integer adapter, a datetime with its time zone to the
    datetime adapter, a UUID to its hex (or as it is, where the database has a
    UUID type)."""
    target = field.target_field if field.is_relation else field
    kind = type(target)
    text = kind in TEXT
    # Keys go as they are; other integers through the backend's adapter.
    key_number = isinstance(target, AutoFieldMixin)
    integer = isinstance(target, models.IntegerField) and not key_number
    internal_type = target.get_internal_type()
    moment = kind is models.DateTimeField
    key = kind is models.UUIDField
    attname = field.attname
    computed = type(field).pre_save is not models.Field.pre_save  # auto_now & co.

    def prepare(instance: models.Model, add: bool, db) -> Any:
        value = (
            field.pre_save(instance, add) if computed else getattr(instance, attname)
        )
        cls = type(value)
        if (text and cls is str) or (key_number and cls is int):
            return value
        if integer and cls is int:
            return db.ops.adapt_integerfield_value(value, internal_type)
        if moment and cls is datetime and value.tzinfo is not None:
            return db.ops.adapt_datetimefield_value(value)
        if key and cls is UUID:
            return value if db.features.has_native_uuid_field else value.hex
        return field.get_db_prep_save(value, db)

    return prepare
