"""Rows written as plain dicts with Core INSERTs, for the paths where building ORM objects
and flushing them costs more than the work itself (intake: about 25 rows a referral).

``Rows`` collects the rows of one unit of work by table and ``write``s them with one
executemany INSERT per table, parents before children (the metadata's foreign-key order).
A row gets its model's Python-side defaults (``default`` and ``default_factory``), so a
row written here reads back through the ORM as if the model had written it.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import Table, bindparam, insert
from sqlmodel import SQLModel

from shared.db import UnitOfWork

_NO_DEFAULT = object()


@cache
def _defaults(model: type[SQLModel]) -> tuple[tuple[str, Any, Any], ...]:
    """(column, default, default factory) of each of the model's fields."""
    fields = []
    for name, info in model.model_fields.items():
        default = _NO_DEFAULT if info.default is PydanticUndefined else info.default
        fields.append((name, default, info.default_factory))
    return tuple(fields)


@cache
def _autoincrement(model: type[SQLModel]) -> frozenset[str]:
    """Integer primary keys the database numbers (left out of a row when None)."""
    table = _table(model)
    return frozenset(c.name for c in table.primary_key.columns
                     if c.autoincrement is True or (c.autoincrement == "auto"
                                                    and c.type.python_type is int))


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def row_of(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """A row of ``model``'s table: ``values`` with the model's defaults for the rest."""
    row: dict[str, Any] = {}
    for name, default, factory in _defaults(model):
        if name in values:
            row[name] = values[name]
        elif factory is not None:
            row[name] = factory()
        elif default is not _NO_DEFAULT:
            row[name] = default
        else:
            raise TypeError(f"{model.__name__}.{name} is required")
    for name in _autoincrement(model):
        if row.get(name) is None:
            row.pop(name, None)
    return row


@cache
def _order() -> dict[str, int]:
    return {table.name: i for i, table in enumerate(SQLModel.metadata.sorted_tables)}


class Rows:
    """Rows to insert in the unit of work's transaction, by table."""

    def __init__(self) -> None:
        self._tables: dict[Table, list[dict[str, Any]]] = defaultdict(list)

    def add(self, model: type[SQLModel], **values: Any) -> dict[str, Any]:
        """A new row of ``model`` (see ``row_of``), to be written by ``write``."""
        row = row_of(model, **values)
        self._tables[_table(model)].append(row)
        return row

    async def write(self, uow: UnitOfWork, *, bulk: bool = False) -> None:
        """INSERT everything collected (one statement per table), then forget it.

        ``bulk`` (`mash import`): on PostgreSQL, a table's rows go by COPY when there are
        at least COPY_FROM of them, which takes about half the time of the INSERT.
        """
        if not self._tables:
            return
        order = _order()
        connection = await uow.session.connection()
        copy = bulk and connection.dialect.name == "postgresql"
        for table in sorted(self._tables, key=lambda t: order.get(t.name, len(order))):
            rows = self._tables[table]
            if copy and len(rows) >= COPY_FROM:
                await _copy(connection, table, rows)
            else:
                await connection.execute(_insert(table), rows)
            uow.note(table.name)  # the workers waiting for these rows wake at the commit
        self._tables.clear()


COPY_FROM = 100  # rows of one table; below it, COPY's extra round trip is not worth it


async def _copy(connection: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY ``rows`` into ``table`` in the connection's transaction (asyncpg's binary
    COPY), each value through its column type's bind processing as an INSERT's would be
    (JSON to text, PackedJSON packed). Rows of one table have one set of keys (row_of)."""
    columns = list(rows[0])
    values = [[row[name] for row in rows] for name in columns]  # column by column
    for i, name in enumerate(columns):
        process = table.c[name].type._cached_bind_processor(connection.dialect)
        if process is not None:
            values[i] = [process(value) for value in values[i]]
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(
        table.name, records=list(zip(*values, strict=True)), columns=columns)


@cache
def _insert(table: Table) -> Any:
    return insert(table)


def in_slots(column: Any, name: str, slots: int | None) -> Any:
    """``column IN (...)`` over ``slots`` fixed parameters (``name_0``...), or over one
    expanding parameter when ``slots`` is None. Fixed slots keep a statement's compiled
    form cached whole: an expanding list is rendered again at every execution."""
    if slots is None:
        return column.in_(bindparam(name, expanding=True))
    return column.in_([bindparam(f"{name}_{i}") for i in range(slots)])


def slot_params(name: str, values: list[Any], slots: int) -> tuple[int | None, dict[str, Any]]:
    """The slots to use for ``values`` (None: too many, expand) and their parameters;
    unused slots are NULL, which matches nothing."""
    if len(values) > slots:
        return None, {name: values}
    padded = values + [None] * (slots - len(values))
    return slots, {f"{name}_{i}": value for i, value in enumerate(padded)}
