"""The quota ledger: reserve generation-seconds before work, settle or refund after, never overspend.

Every operation is one short transaction. The budget check and the hold are a single conditional
UPDATE, so concurrent reserves (threads, processes, hosts) cannot overspend. Reservations carry an
expiry; expired ones are released lazily when they stand in the way of a reserve, on balance(), or by
`sweep_expired`, so a killed worker never locks seconds and no background thread is needed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from vidgen.quota.clock import Clock, QuotaCalendar, day_from_key, day_key, system_clock
from vidgen.quota.engine import make_engine
from vidgen.quota.identity import User
from vidgen.quota.plans import Plan, PlanBook
from vidgen.quota.schema import SCHEMA_VERSION, audit, days, meta, metadata, users
from vidgen.quota.sqlexec import Database, Transaction, retry_transient
from vidgen.quota.statements import Statements, insert_ignore
from vidgen.quota.types import (
    Balance,
    DuplicateJob,
    PreviewRateLimited,
    QuotaExceeded,
    Reservation,
    Settlement,
    UsageRow,
)

DEFAULT_URL = "sqlite:///data/quota.db"
PREVIEW_WINDOW_S = 60.0
UNLIMITED_ROOM_MS = 2**62


def to_ms(seconds: float) -> int:
    """Generation-seconds to whole milliseconds, rounding up (a clip is never under-charged by rounding)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    return math.ceil(round(seconds * 1000.0, 6))


def _plan_limit_ms(plan: Plan) -> int | None:
    return None if plan.daily_seconds is None else to_ms(plan.daily_seconds)


class Ledger:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        plans: PlanBook | None = None,
        timezone: str = "UTC",
        reservation_ttl_s: float = 900.0,
        clock: Clock | None = None,
        durable: bool = False,
        **engine_kwargs: Any,
    ) -> None:
        """`durable=True` flushes every commit to disk (SQLite synchronous=FULL, PostgreSQL
        synchronous_commit=on); the default skips that flush, which never affects consistency.
        `engine_kwargs` go to SQLAlchemy's create_engine."""
        if reservation_ttl_s <= 0:
            raise ValueError("reservation_ttl_s must be > 0")
        self.plans = plans or PlanBook.load()
        self.calendar = QuotaCalendar.named(timezone)
        self.reservation_ttl_s = float(reservation_ttl_s)
        self.clock = clock or system_clock
        self.engine = make_engine(url, durable=durable, **engine_kwargs)
        self._create_tables()
        self._db = Database(self.engine)
        self._sql = Statements(self._db)

    def _create_tables(self) -> None:
        try:
            metadata.create_all(self.engine)
        except (IntegrityError, ProgrammingError, OperationalError):
            # Another process created them at the same moment (PostgreSQL's catalog race); check again.
            metadata.create_all(self.engine)
        self._check_schema_version()

    def _check_schema_version(self) -> None:
        with self.engine.begin() as conn:
            found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
            if found is None:
                insert = insert_ignore(self.engine.dialect.name, meta)
                conn.execute(insert, {"key": "schema_version", "value": str(SCHEMA_VERSION)})
                return
        if found != str(SCHEMA_VERSION):
            raise RuntimeError(
                f"quota database {self.engine.url.render_as_string(hide_password=True)} has schema version "
                f"{found}, this vidgen needs {SCHEMA_VERSION}: move the old database aside (its audit "
                f"table stays readable) and start a new one"
            )

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- time
    def _now(self) -> tuple[dt.datetime, float, int]:
        now = self.clock()
        return now, now.timestamp(), day_key(self.calendar.day_of(now))

    # ---------------------------------------------------------------- users and plans
    def _effective_plan(self, tx: Transaction, user: User, ts: float) -> Plan:
        """The user's plan (an admin's override wins), creating or refreshing the user row as needed."""
        row = tx.one(self._sql.select_user, {"u": user.user_id})
        if row is None:
            tx.execute(self._sql.insert_user, {"user_id": user.user_id, "display_name": user.display_name,
                                               "source": user.source, "plan": user.plan, "plan_override": None,
                                               "created_ts": ts})
            row = tx.one(self._sql.select_user, {"u": user.user_id})
        stored_plan, override, display_name = row  # type: ignore[misc]
        if stored_plan != user.plan or display_name != user.display_name:
            tx.execute(self._sql.refresh_user,
                       {"u": user.user_id, "plan": user.plan, "name": user.display_name, "source": user.source})
        return self.plans.get(override or user.plan)

    @retry_transient
    def plan_of(self, user: User) -> Plan:
        """The plan in force for `user` (honours set_plan); `.admin` tells whether to show the admin view."""
        _, ts, _ = self._now()
        with self._db.transaction() as tx:
            return self._effective_plan(tx, user, ts)

    def is_admin(self, user: User) -> bool:
        return self.plan_of(user).admin

    # ---------------------------------------------------------------- expiry
    def _release(self, tx: Transaction, closed: Sequence[tuple[Any, ...]], ts: float) -> None:
        for job_id, user_id, day, reserved_ms in closed:
            tx.execute(self._sql.release_day, {"u": user_id, "d": day, "released": reserved_ms, "charged": 0})
            self._audit(tx, ts, user_id, job_id, "expire", reserved_ms, "expired")

    def _expire_user(self, tx: Transaction, user_id: str, ts: float) -> int:
        closed = tx.all(self._sql.expire_user, {"u": user_id, "now": ts})
        self._release(tx, closed, ts)
        return len(closed)

    @retry_transient
    def sweep_expired(self) -> int:
        """Releases every expired reservation of every user; returns how many."""
        _, ts, _ = self._now()
        with self._db.transaction() as tx:
            closed = tx.all(self._sql.expire_all, {"now": ts})
            self._release(tx, closed, ts)
        return len(closed)

    # ---------------------------------------------------------------- audit
    def _audit(self, tx: Transaction, ts: float, user_id: str, job_id: str | None, event: str,
               ms: int, outcome: str | None = None, detail: str | None = None) -> None:
        tx.execute(self._sql.insert_audit, {"ts": ts, "user_id": user_id, "job_id": job_id, "event": event,
                                            "seconds_ms": ms, "outcome": outcome, "detail": detail})

    # ---------------------------------------------------------------- reserve / settle / refund
    def _hold(self, tx: Transaction, user_id: str, day: int, need: int, limit: int | None) -> bool:
        """Atomically adds `need` to the day's reservations if it fits; creates the day row on first use."""
        statement = self._sql.reserve_unlimited if limit is None else self._sql.reserve_limited
        values = {"u": user_id, "d": day, "need": need, "limit": limit}
        if tx.execute(statement, values) == 1:
            return True
        self._ensure_day(tx, user_id, day)
        return tx.execute(statement, values) == 1

    def _ensure_day(self, tx: Transaction, user_id: str, day: int) -> None:
        tx.execute(self._sql.insert_day, {"user_id": user_id, "day": day, "used_ms": 0, "reserved_ms": 0,
                                          "bonus_ms": 0, "previews": 0})

    @retry_transient
    def reserve(self, user: User, job_id: str, seconds: float) -> Reservation:
        """Holds `seconds` for `job_id` before any work starts; raises QuotaExceeded if they do not fit."""
        need = to_ms(seconds)
        if need <= 0:
            raise ValueError("a reservation needs a positive number of seconds")
        now, ts, day = self._now()
        expires_ts = ts + self.reservation_ttl_s
        try:
            with self._db.transaction() as tx:
                plan = self._effective_plan(tx, user, ts)
                limit = _plan_limit_ms(plan)
                held = self._hold(tx, user.user_id, day, need, limit)
                # Expired reservations only matter when they stand in the way: release them, try again.
                if not held and self._expire_user(tx, user.user_id, ts):
                    held = self._hold(tx, user.user_id, day, need, limit)
                if held:
                    # The reservation row is the record of the hold; the audit row comes with the outcome.
                    tx.execute(self._sql.insert_reservation, {
                        "job_id": job_id, "user_id": user.user_id, "day": day, "reserved_ms": need,
                        "charged_ms": 0, "state": "reserved", "outcome": None, "created_ts": ts,
                        "expires_ts": expires_ts, "closed_ts": None})
                else:
                    refused = self._balance_in(tx, user.user_id, plan, now, day)
        except self._db.IntegrityError as error:
            raise DuplicateJob(f"job id {job_id!r} already has a reservation") from error
        if not held:
            # Raised after the commit so expired reservations released above stay released.
            raise QuotaExceeded(need / 1000.0, refused, self.calendar.seconds_until_reset(now))
        expires_at = dt.datetime.fromtimestamp(expires_ts, dt.timezone.utc)
        return Reservation(job_id, user.user_id, need / 1000.0, day_from_key(day), expires_at)

    @retry_transient
    def settle(self, job_id: str, actual_seconds: float) -> Settlement:
        """Charges min(actual, reserved) and releases the rest. Repeating it changes nothing."""
        actual = to_ms(actual_seconds)
        _, ts, _ = self._now()
        with self._db.transaction() as tx:
            row = tx.one(self._sql.settle, {"j": job_id, "actual": actual, "now": ts})
            if row is None:
                return self._settle_closed(tx, job_id, actual, ts)
            user_id, day, reserved_ms, charged_ms = row
            tx.execute(self._sql.release_day, {"u": user_id, "d": day, "released": reserved_ms, "charged": charged_ms})
            self._audit(tx, ts, user_id, job_id, "settle", charged_ms, "succeeded")
        return Settlement(job_id, True, "settled", charged_ms / 1000.0)

    def _settle_closed(self, tx: Transaction, job_id: str, actual: int, ts: float) -> Settlement:
        """Settle on a job that is no longer open: a repeat (no-op), or a job that outlived its TTL."""
        row = tx.one(self._sql.select_reservation, {"j": job_id})
        if row is None:
            return Settlement(job_id, False, "unknown", 0.0)
        state, user_id, day, reserved_ms, charged_ms = row
        if state != "expired":
            return Settlement(job_id, False, state, charged_ms / 1000.0)
        # The job delivered after its reservation lapsed: charge what is still free that day, never more.
        charge = min(actual, reserved_ms, self._room_ms(tx, user_id, day))
        tx.execute(self._sql.settle_late, {"j": job_id, "charged": charge})
        tx.execute(self._sql.release_day, {"u": user_id, "d": day, "released": 0, "charged": charge})
        self._audit(tx, ts, user_id, job_id, "settle", charge, "settled_late")
        return Settlement(job_id, True, "settled", charge / 1000.0)

    def _room_ms(self, tx: Transaction, user_id: str, day: int) -> int:
        stored_plan, override, _ = tx.one(self._sql.select_user, {"u": user_id})  # type: ignore[misc]
        limit = _plan_limit_ms(self.plans.get(override or stored_plan))
        used, reserved, bonus, _ = tx.one(self._sql.select_day_for_update, {"u": user_id, "d": day})  # type: ignore[misc]
        return UNLIMITED_ROOM_MS if limit is None else max(0, limit + bonus - used - reserved)

    @retry_transient
    def refund(self, job_id: str, outcome: str = "failed") -> Settlement:
        """Returns every reserved second (failure, cancel, safety block, crash). Repeating it changes nothing."""
        _, ts, _ = self._now()
        with self._db.transaction() as tx:
            row = tx.one(self._sql.refund, {"j": job_id, "outcome": outcome, "now": ts})
            if row is None:
                existing = tx.one(self._sql.select_reservation, {"j": job_id})
                if existing is None:
                    return Settlement(job_id, False, "unknown", 0.0)
                return Settlement(job_id, False, existing[0], existing[4] / 1000.0)
            user_id, day, reserved_ms = row
            tx.execute(self._sql.release_day, {"u": user_id, "d": day, "released": reserved_ms, "charged": 0})
            self._audit(tx, ts, user_id, job_id, "refund", reserved_ms, outcome)
        return Settlement(job_id, True, "refunded", 0.0)

    @retry_transient
    def heartbeat(self, job_id: str, ttl_s: float | None = None) -> bool:
        """Pushes an open reservation's expiry out (for jobs that may run longer than the TTL)."""
        _, ts, _ = self._now()
        expires = ts + (ttl_s if ttl_s is not None else self.reservation_ttl_s)
        with self._db.transaction() as tx:
            return tx.execute(self._sql.heartbeat, {"j": job_id, "expires": expires}) == 1

    def reservation_state(self, job_id: str) -> str:
        """reserved | settled | refunded | expired | unknown (expiry is only noticed lazily)."""
        with self._db.transaction() as tx:
            row = tx.one(self._sql.select_reservation, {"j": job_id})
        return row[0] if row else "unknown"

    # ---------------------------------------------------------------- balance
    def _balance_in(self, tx: Transaction, user_id: str, plan: Plan, now: dt.datetime, day: int) -> Balance:
        used, reserved, bonus, previews = tx.one(self._sql.select_day, {"u": user_id, "d": day}) or (0, 0, 0, 0)
        limit = _plan_limit_ms(plan)
        return Balance(
            plan=plan.name,
            used_s=used / 1000.0,
            reserved_s=reserved / 1000.0,
            limit_s=None if limit is None else (limit + bonus) / 1000.0,
            resets_at=self.calendar.next_reset(now),
            previews_today=previews,
        )

    @retry_transient
    def balance(self, user: User) -> Balance:
        now, ts, day = self._now()
        with self._db.transaction() as tx:
            plan = self._effective_plan(tx, user, ts)
            self._expire_user(tx, user.user_id, ts)
            return self._balance_in(tx, user.user_id, plan, now, day)

    # ---------------------------------------------------------------- free previews
    @retry_transient
    def take_preview(self, user: User) -> int:
        """Counts one free preview (no seconds); raises PreviewRateLimited past the per-minute or per-day
        limit of the user's plan. Returns the number of previews taken today."""
        now, ts, day = self._now()
        with self._db.transaction() as tx:
            plan = self._effective_plan(tx, user, ts)
            self._count_preview_today(tx, user.user_id, day, plan, now)
            if plan.previews_per_minute is not None:
                self._check_preview_minute(tx, user.user_id, plan.previews_per_minute, ts)
                tx.execute(self._sql.insert_preview, {"user_id": user.user_id, "ts": ts})
            row = tx.one(self._sql.select_day, {"u": user.user_id, "d": day})
            return int(row[3]) if row else 0

    def _count_preview_today(self, tx: Transaction, user_id: str, day: int, plan: Plan, now: dt.datetime) -> None:
        # Also locks the day row, which serialises this user's previews for the per-minute count below.
        limit = plan.previews_per_day
        statement = self._sql.count_preview_unlimited if limit is None else self._sql.count_preview_limited
        values = {"u": user_id, "d": day, "limit": limit}
        if tx.execute(statement, values) == 1:
            return
        self._ensure_day(tx, user_id, day)
        if tx.execute(statement, values) == 0:
            raise PreviewRateLimited("day", limit or 0, self.calendar.seconds_until_reset(now))

    def _check_preview_minute(self, tx: Transaction, user_id: str, limit: int, ts: float) -> None:
        since = ts - PREVIEW_WINDOW_S
        tx.execute(self._sql.prune_previews, {"u": user_id, "since": since})
        count, oldest = tx.one(self._sql.count_recent_previews, {"u": user_id, "since": since})  # type: ignore[misc]
        if count >= limit:
            # Raising rolls the whole transaction back, including the per-day count above.
            raise PreviewRateLimited("minute", limit, max(1.0, oldest + PREVIEW_WINDOW_S - ts))

    # ---------------------------------------------------------------- admin (teacher) operations
    def _usage_query(self, day: int) -> Any:
        joined = users.outerjoin(days, and_(days.c.user_id == users.c.user_id, days.c.day == day))
        return select(users.c.user_id, users.c.display_name, users.c.source, users.c.plan, users.c.plan_override,
                      days.c.used_ms, days.c.reserved_ms, days.c.bonus_ms, days.c.previews).select_from(joined)

    def usage_today(self) -> list[UsageRow]:
        """Today's usage: every user active today plus every named (non-anonymous) user, heaviest first."""
        self.sweep_expired()
        _, _, day = self._now()
        query = (
            self._usage_query(day)
            .where(or_(days.c.user_id.is_not(None), users.c.source != "anonymous"))
            .order_by(days.c.used_ms.desc().nulls_last(), users.c.user_id)
        )
        with self.engine.connect() as conn:
            return [self._usage_row(row) for row in conn.execute(query)]

    def user_usage(self, user_id: str) -> UsageRow:
        _, _, day = self._now()
        with self.engine.connect() as conn:
            row = conn.execute(self._usage_query(day).where(users.c.user_id == user_id)).first()
        if row is None:
            raise KeyError(f"unknown user {user_id!r}")
        return self._usage_row(row)

    def _usage_row(self, row: Any) -> UsageRow:
        plan = self.plans.get(row.plan_override or row.plan)
        limit = _plan_limit_ms(plan)
        bonus = row.bonus_ms or 0
        return UsageRow(
            user_id=row.user_id, display_name=row.display_name, source=row.source, plan=plan.name,
            used_s=(row.used_ms or 0) / 1000.0, reserved_s=(row.reserved_ms or 0) / 1000.0,
            limit_s=None if limit is None else (limit + bonus) / 1000.0, previews=row.previews or 0,
        )

    def _require_user(self, tx: Transaction, user_id: str) -> None:
        if tx.one(self._sql.select_user, {"u": user_id}) is None:
            raise KeyError(f"unknown user {user_id!r}")

    @retry_transient
    def top_up(self, user_id: str, seconds: float) -> UsageRow:
        """Adds `seconds` to the user's allowance for today only."""
        bonus = to_ms(seconds)
        _, ts, day = self._now()
        with self._db.transaction() as tx:
            self._require_user(tx, user_id)
            self._ensure_day(tx, user_id, day)
            tx.execute(self._sql.add_bonus, {"u": user_id, "d": day, "bonus": bonus})
            self._audit(tx, ts, user_id, None, "top_up", bonus, "admin")
        return self.user_usage(user_id)

    @retry_transient
    def reset_user(self, user_id: str) -> UsageRow:
        """Gives the user today's budget and previews back (running jobs keep their reservations)."""
        _, ts, day = self._now()
        with self._db.transaction() as tx:
            self._require_user(tx, user_id)
            self._ensure_day(tx, user_id, day)
            used = tx.one(self._sql.select_day, {"u": user_id, "d": day})[0]  # type: ignore[index]
            tx.execute(self._sql.reset_day, {"u": user_id, "d": day})
            tx.execute(self._sql.clear_previews, {"u": user_id})
            self._audit(tx, ts, user_id, None, "reset", used, "admin")
        return self.user_usage(user_id)

    @retry_transient
    def set_plan(self, user_id: str, plan: str) -> UsageRow:
        """Pins a plan for the user; it wins over the plan their identity brings, until changed again."""
        self.plans.get(plan)  # validates the name
        _, ts, _ = self._now()
        with self._db.transaction() as tx:
            tx.execute(self._sql.insert_user, {"user_id": user_id, "display_name": user_id, "source": "admin",
                                               "plan": plan, "plan_override": None, "created_ts": ts})
            tx.execute(self._sql.set_plan_override, {"u": user_id, "plan": plan})
            self._audit(tx, ts, user_id, None, "plan", 0, "admin", detail=plan)
        return self.user_usage(user_id)

    def audit_log(self, user_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit entries (optionally for one user), with aware UTC times and seconds."""
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(audit.c.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {"at": dt.datetime.fromtimestamp(row["ts"], dt.timezone.utc), "user_id": row["user_id"],
             "job_id": row["job_id"], "event": row["event"], "seconds": row["seconds_ms"] / 1000.0,
             "outcome": row["outcome"], "detail": row["detail"]}
            for row in rows
        ]
