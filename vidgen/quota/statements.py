"""The ledger's SQL, written with SQLAlchemy Core and compiled once per ledger for its dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement

from vidgen.quota.schema import audit, days, previews, reservations, users
from vidgen.quota.sqlexec import Database

_CLOSED_COLUMNS = (reservations.c.job_id, reservations.c.user_id, reservations.c.day, reservations.c.reserved_ms)


def insert_ignore(dialect: str, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the two supported dialects."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def insert_without_id(table: Any) -> Any:
    """INSERT naming every column but the autoincrement id (compiled once, so the columns must be named)."""
    return table.insert().values({c.name: bindparam(c.name) for c in table.columns if c.name != "id"})


class Statements:
    """Every statement the ledger runs, as attributes, compiled for the database's dialect."""

    def __init__(self, db: Database) -> None:
        dialect = db.engine.dialect.name
        self._users(dialect)
        self._days(dialect)
        self._reservations()
        self._previews()
        self.insert_audit = insert_without_id(audit)
        for name, statement in list(vars(self).items()):
            if isinstance(statement, ClauseElement):
                setattr(self, name, db.compile(statement))

    def _users(self, dialect: str) -> None:
        self.select_user = select(users.c.plan, users.c.plan_override, users.c.display_name).where(
            users.c.user_id == bindparam("u")
        )
        self.insert_user = insert_ignore(dialect, users)
        self.refresh_user = (
            update(users)
            .where(users.c.user_id == bindparam("u"))
            .values(plan=bindparam("plan"), display_name=bindparam("name"), source=bindparam("source"))
        )

    def _days(self, dialect: str) -> None:
        key = and_(days.c.user_id == bindparam("u"), days.c.day == bindparam("d"))
        self.insert_day = insert_ignore(dialect, days)
        # Check and increment in one statement, so concurrent reserves can never overspend: SQLite
        # serialises writers, PostgreSQL re-evaluates the WHERE clause on the row it has locked.
        fits = days.c.used_ms + days.c.reserved_ms + bindparam("need") <= bindparam("limit") + days.c.bonus_ms
        hold = days.c.reserved_ms + bindparam("need")
        self.reserve_limited = update(days).where(key, fits).values(reserved_ms=hold)
        self.reserve_unlimited = update(days).where(key).values(reserved_ms=hold)
        self.release_day = (
            update(days)
            .where(key)
            .values(
                reserved_ms=days.c.reserved_ms - bindparam("released"),
                used_ms=days.c.used_ms + bindparam("charged"),
            )
        )
        self.select_day = select(days.c.used_ms, days.c.reserved_ms, days.c.bonus_ms, days.c.previews).where(key)
        self.select_day_for_update = self.select_day.with_for_update()
        self.count_preview_limited = (
            update(days).where(key, days.c.previews < bindparam("limit")).values(previews=days.c.previews + 1)
        )
        self.count_preview_unlimited = update(days).where(key).values(previews=days.c.previews + 1)
        self.add_bonus = update(days).where(key).values(bonus_ms=days.c.bonus_ms + bindparam("bonus"))
        self.reset_day = update(days).where(key).values(used_ms=0, previews=0)

    def _reservations(self) -> None:
        r = reservations.c
        self.insert_reservation = reservations.insert()
        # The state is rendered as a literal, not bound: only then can SQLite and PostgreSQL (generic plans)
        # prove the query matches the partial index on open reservations.
        is_open = r.state == literal_column("'reserved'")
        expired = (is_open, r.expires_ts <= bindparam("now"))
        closed = {"state": "expired", "outcome": "expired", "closed_ts": bindparam("now")}
        self.expire_user = (
            update(reservations)
            .where(r.user_id == bindparam("u"), *expired)
            .values(**closed)
            .returning(*_CLOSED_COLUMNS)
        )
        self.expire_all = update(reservations).where(*expired).values(**closed).returning(*_CLOSED_COLUMNS)
        charged = case((r.reserved_ms < bindparam("actual"), r.reserved_ms), else_=bindparam("actual"))
        open_job = (r.job_id == bindparam("j"), is_open)
        self.settle = (
            update(reservations)
            .where(*open_job)
            .values(state="settled", outcome="succeeded", charged_ms=charged, closed_ts=bindparam("now"))
            .returning(r.user_id, r.day, r.reserved_ms, r.charged_ms)
        )
        self.refund = (
            update(reservations)
            .where(*open_job)
            .values(state="refunded", outcome=bindparam("outcome"), closed_ts=bindparam("now"))
            .returning(r.user_id, r.day, r.reserved_ms)
        )
        self.settle_late = (
            update(reservations)
            .where(r.job_id == bindparam("j"), r.state == "expired")
            .values(state="settled", outcome="settled_late", charged_ms=bindparam("charged"))
        )
        self.select_reservation = select(r.state, r.user_id, r.day, r.reserved_ms, r.charged_ms).where(
            r.job_id == bindparam("j")
        )
        self.heartbeat = update(reservations).where(*open_job).values(expires_ts=bindparam("expires"))

    def _previews(self) -> None:
        p = previews.c
        self.count_recent_previews = select(func.count(), func.min(p.ts)).where(
            p.user_id == bindparam("u"), p.ts > bindparam("since")
        )
        self.insert_preview = insert_without_id(previews)
        self.prune_previews = previews.delete().where(p.user_id == bindparam("u"), p.ts <= bindparam("since"))
        self.clear_previews = previews.delete().where(p.user_id == bindparam("u"))
        self.set_plan_override = (
            update(users).where(users.c.user_id == bindparam("u")).values(plan_override=bindparam("plan"))
        )
