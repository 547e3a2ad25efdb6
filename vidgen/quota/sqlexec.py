"""A thin execution layer for the ledger's hot path.

Statements are written once with SQLAlchemy Core and compiled once per dialect; each call then goes
straight to the DBAPI cursor of a pooled connection. SQLAlchemy's per-statement execution machinery
costs about four times the work SQLite itself does for these tiny statements, and the ledger must do
>= 1,000 reserve+settle pairs a second on a small shared machine. Only plain ints, floats, strings and
None are bound (days are YYYYMMDD integers), so no type processing is skipped.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.sql import ClauseElement

# PostgreSQL may abort one of two transactions that lock the same rows in different orders (deadlock) or
# that conflict under stricter isolation; both are safe to run again from the start.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 4
Result = TypeVar("Result")


def is_transient(error: BaseException) -> bool:
    original = getattr(error, "orig", error)  # SQLAlchemy wraps DBAPI errors
    return getattr(original, "sqlstate", None) in TRANSIENT_SQLSTATES


def retry_transient(method: Callable[..., Result]) -> Callable[..., Result]:
    """Re-runs a method whose only effect is one database transaction when the database aborted it."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Result:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return method(*args, **kwargs)
            except Exception as error:
                if attempt == ATTEMPTS or not is_transient(error):
                    raise
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    return wrapper


class CompiledStatement:
    def __init__(self, engine: Engine, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self._defaults = dict(compiled.params)  # literal values bound by the statement itself
        self._order = tuple(compiled.positiontup or ()) if engine.dialect.positional else None

    def bind(self, values: Mapping[str, Any]) -> Any:
        merged = {**self._defaults, **values}
        if self._order is None:
            return merged
        return tuple(merged[name] for name in self._order)


class Transaction:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, statement: CompiledStatement, values: Mapping[str, Any]) -> int:
        """Runs a statement; returns its row count."""
        self._cursor.execute(statement.sql, statement.bind(values))
        return self._cursor.rowcount

    def one(self, statement: CompiledStatement, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        self._cursor.execute(statement.sql, statement.bind(values))
        rows = self._cursor.fetchall()
        return tuple(rows[0]) if rows else None

    def all(self, statement: CompiledStatement, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        self._cursor.execute(statement.sql, statement.bind(values))
        return [tuple(row) for row in self._cursor.fetchall()]


class Database:
    """Compiles statements for an engine and runs short write transactions on pooled connections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self.IntegrityError = engine.dialect.loaded_dbapi.IntegrityError

    def compile(self, statement: ClauseElement) -> CompiledStatement:
        return CompiledStatement(self.engine, statement)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            if self._sqlite:
                # Take the write lock up front (see engine.py); PostgreSQL begins implicitly.
                cursor.execute("BEGIN IMMEDIATE")
            yield Transaction(cursor)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()  # back to the pool
