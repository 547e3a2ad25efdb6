"""Engines for the ledger: SQLite in WAL mode with write transactions that take the lock up front,
or PostgreSQL through psycopg 3 with the same SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 60.0


def make_engine(url: str, durable: bool = False, **kwargs: Any) -> Engine:
    """`durable=True` makes PostgreSQL wait for the WAL flush on every commit (slower)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, durable, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        return _postgres_engine(url, durable, **kwargs)
    raise ValueError(f"unsupported ledger database {parsed.get_backend_name()!r} (use sqlite or postgresql)")


def _sqlite_engine(url: str, database: str | None, durable: bool, **kwargs: Any) -> Engine:
    in_memory = not database or database == ":memory:"
    if in_memory:
        # One shared connection, or every pooled connection would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 64)
        kwargs.setdefault("pool_timeout", SQLITE_BUSY_TIMEOUT_S)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # Checkpoint (and fsync) every ~40 MB of WAL instead of every 4 MB: far fewer syncs per commit.
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
        # NORMAL in WAL mode: no fsync per commit, still never corrupt; a power cut may drop the last commits.
        cursor.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock at BEGIN: a deferred transaction that reads and then writes can fail with
        # SQLITE_BUSY without waiting when another writer committed in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: str, durable: bool = False, **kwargs: Any) -> Engine:
    kwargs.setdefault("pool_size", 8)
    kwargs.setdefault("max_overflow", 64)
    kwargs.setdefault("pool_recycle", 1800)
    if not durable:
        # Like SQLite's synchronous=NORMAL: commits do not wait for the WAL flush. Consistency and the
        # no-overspend guarantee are unchanged; an OS crash may forget the last fraction of a second.
        connect_args = dict(kwargs.pop("connect_args", {}))
        # connect_args replace the URL's query, so keep any `options` given there (e.g. a search_path).
        options = connect_args.get("options") or make_url(url).query.get("options", "")
        connect_args["options"] = f"{options} -c synchronous_commit=off".strip()
        kwargs["connect_args"] = connect_args
    return create_engine(url, **kwargs)
