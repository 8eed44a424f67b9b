"""Statements built once per model, for the write paths that run thousands of times.

`Model.objects.create()` compiles its INSERT anew on every call: for the claim transaction
(a claim, its lines, a ledger entry, an audit event) the compiling cost more CPU than PostgreSQL
spends running the statements (bench/claims.py, docs/benchmarks.md). `insert()` and
`insert_many()` write the same row the ORM would write:

- the statement is built from the model's own fields (so a migration that adds a field changes
  it), with the backend's quoting, and cached per model, backend and row count;
- each value goes through the field's `pre_save(add=True)` (auto_now, auto_now_add) and
  `get_db_prep_save()` (JSON, decimals, time zones), exactly as `save()` does;
- the primary key comes back through RETURNING and the instance is marked as saved.

`select_list()` and `instance_from_row()` do the same for a hand-written SELECT (the claim's
locking read, which also asks the database three questions): the columns of the model, then an
instance built as the ORM builds one, without a RawQuerySet's per-call set-up.

What the inserts skip: model signals (the project has none on these models) and `save()`
overrides (use them only for models without one), and `full_clean()` (the callers build the
rows from values the service already validated; the database checks the constraints).
"""

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connections, models
from django.db.models.fields import Field

M = TypeVar("M", bound=models.Model)


def insert(obj: M, *, using: str = "default") -> M:
    """INSERT one instance (primary key from the database) and return it, saved."""
    return insert_many([obj], using=using)[0]


def insert_many(objs: Sequence[M], *, using: str = "default") -> Sequence[M]:
    """INSERT instances of one model in one statement; each gets its primary key back."""
    if not objs:
        return objs
    model = type(objs[0])
    connection = connections[using]
    sql, fields = _insert_statement(model, connection.vendor, using, len(objs))
    params: list[Any] = []
    for obj in objs:
        if type(obj) is not model:
            raise TypeError(f"insert_many takes instances of one model, not {type(obj)}")
        params.extend(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = [row[0] for row in cursor.fetchall()]
    pk_name = model._meta.pk.attname  # type: ignore[union-attr]
    for obj, key in zip(objs, keys, strict=True):
        setattr(obj, pk_name, key)
        obj._state.adding = False
        obj._state.db = using
    return objs


@cache
def _insert_statement(
    model: type[models.Model], vendor: str, using: str, rows: int
) -> tuple[str, tuple[Field, ...]]:
    connection = connections[using]
    if not connection.features.can_return_rows_from_bulk_insert:
        raise NotImplementedError(f"{vendor} cannot return the keys of inserted rows")
    meta = model._meta
    pk = meta.pk
    assert pk is not None  # noqa: S101  (every concrete model has one)
    fields = tuple(
        f
        for f in meta.local_concrete_fields
        if f.column and f is not meta.auto_field and not getattr(f, "generated", False)
    )
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(quote(f.column) for f in fields if f.column)
    # Names come from the model, every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)}"  # noqa: S608
    sql += f" RETURNING {quote(pk.column or pk.attname)}"
    return sql, fields


def select_list(model: type[models.Model], table_alias: str, *, using: str = "default") -> str:
    """The model's columns for a hand-written SELECT, in the order `instance_from_row` reads."""
    quote = connections[using].ops.quote_name
    return ", ".join(f"{table_alias}.{quote(f.column or '')}" for f in _loaded_fields(model))


def instance_from_row(model: type[M], row: Sequence[Any], *, using: str = "default") -> M:
    """An instance from the first columns of a row selected with `select_list`, converted as
    the ORM converts them (SQLite's dates and decimals, for instance). Columns after the
    model's are left to the caller."""
    connection = connections[using]
    fields = _loaded_fields(model)
    values = list(row[: len(fields)])
    for index, field in enumerate(fields):
        for convert in _converters(field, connection.vendor, using):
            values[index] = convert(values[index], field.cached_col, connection)
    return model.from_db(using, [f.attname for f in fields], values)


@cache
def _loaded_fields(model: type[models.Model]) -> tuple[Field, ...]:
    return tuple(f for f in model._meta.concrete_fields if f.column)


@cache
def _converters(field: Field, vendor: str, using: str) -> tuple[Any, ...]:
    connection = connections[using]
    return tuple(
        connection.ops.get_db_converters(field.cached_col) + field.get_db_converters(connection)
    )
