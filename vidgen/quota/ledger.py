"""The quota ledger: reserve generation-seconds before work, settle or refund after, never overspend.

Every operation is one short transaction. Reservations carry an expiry; expired ones are released lazily
by the next reserve/balance of the same user (or by `sweep_expired`), so a killed worker never locks
seconds and no background thread is needed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from vidgen.quota.clock import Clock, QuotaCalendar, system_clock
from vidgen.quota.engine import make_engine
from vidgen.quota.identity import User
from vidgen.quota.plans import Plan, PlanBook
from vidgen.quota.schema import audit, days, metadata, users
from vidgen.quota.statements import Statements
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
        self._sql = Statements(self.engine.dialect.name)
        self._create_tables()

    def _create_tables(self) -> None:
        try:
            metadata.create_all(self.engine)
        except (IntegrityError, ProgrammingError, OperationalError):
            # Another process created them at the same moment (PostgreSQL's catalog race); check again.
            metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- time
    def _now(self) -> tuple[dt.datetime, float, dt.date]:
        now = self.clock()
        return now, now.timestamp(), self.calendar.day_of(now)

    # ---------------------------------------------------------------- users and plans
    def _effective_plan(self, conn: Connection, user: User, ts: float) -> Plan:
        """The user's plan (an admin's override wins), creating or refreshing the user row as needed."""
        row = conn.execute(self._sql.select_user, {"u": user.user_id}).first()
        if row is None:
            params = {"user_id": user.user_id, "display_name": user.display_name, "source": user.source,
                      "plan": user.plan, "plan_override": None, "created_ts": ts}
            conn.execute(self._sql.insert_user, params)
            row = conn.execute(self._sql.select_user, {"u": user.user_id}).first()
        elif row.plan != user.plan or row.display_name != user.display_name:
            conn.execute(self._sql.refresh_user,
                         {"u": user.user_id, "plan": user.plan, "name": user.display_name, "source": user.source})
        return self.plans.get(row.plan_override or user.plan)

    def plan_of(self, user: User) -> Plan:
        """The plan in force for `user` (honours set_plan); `.admin` tells whether to show the admin view."""
        _, ts, _ = self._now()
        with self.engine.begin() as conn:
            return self._effective_plan(conn, user, ts)

    def is_admin(self, user: User) -> bool:
        return self.plan_of(user).admin

    # ---------------------------------------------------------------- expiry
    def _release(self, conn: Connection, closed: Sequence[Any], ts: float) -> None:
        for job_id, user_id, day, reserved_ms in closed:
            conn.execute(self._sql.release_day, {"u": user_id, "d": day, "released": reserved_ms, "charged": 0})
            self._audit(conn, ts, user_id, job_id, "expire", reserved_ms, "expired")

    def _expire_user(self, conn: Connection, user_id: str, ts: float) -> None:
        self._release(conn, conn.execute(self._sql.expire_user, {"u": user_id, "now": ts}).all(), ts)

    def sweep_expired(self) -> int:
        """Releases every expired reservation of every user; returns how many."""
        _, ts, _ = self._now()
        with self.engine.begin() as conn:
            closed = conn.execute(self._sql.expire_all, {"now": ts}).all()
            self._release(conn, closed, ts)
        return len(closed)

    # ---------------------------------------------------------------- audit
    def _audit(self, conn: Connection, ts: float, user_id: str, job_id: str | None, event: str,
               ms: int, outcome: str | None = None, detail: str | None = None) -> None:
        conn.execute(self._sql.insert_audit, {"ts": ts, "user_id": user_id, "job_id": job_id, "event": event,
                                              "seconds_ms": ms, "outcome": outcome, "detail": detail})

    # ---------------------------------------------------------------- reserve / settle / refund
    def _hold(self, conn: Connection, user_id: str, day: dt.date, need: int, limit: int | None) -> bool:
        """Atomically adds `need` to the day's reservations if it fits; creates the day row on first use."""
        stmt = self._sql.reserve_unlimited if limit is None else self._sql.reserve_limited
        params = {"u": user_id, "d": day, "need": need, "limit": limit}
        if conn.execute(stmt, params).rowcount == 1:
            return True
        self._ensure_day(conn, user_id, day)
        return conn.execute(stmt, params).rowcount == 1

    def _ensure_day(self, conn: Connection, user_id: str, day: dt.date) -> None:
        conn.execute(self._sql.insert_day, {"user_id": user_id, "day": day, "used_ms": 0, "reserved_ms": 0,
                                            "bonus_ms": 0, "previews": 0})

    def reserve(self, user: User, job_id: str, seconds: float) -> Reservation:
        """Holds `seconds` for `job_id` before any work starts; raises QuotaExceeded if they do not fit."""
        need = to_ms(seconds)
        if need <= 0:
            raise ValueError("a reservation needs a positive number of seconds")
        now, ts, day = self._now()
        expires_ts = ts + self.reservation_ttl_s
        try:
            with self.engine.begin() as conn:
                plan = self._effective_plan(conn, user, ts)
                self._expire_user(conn, user.user_id, ts)
                held = self._hold(conn, user.user_id, day, need, _plan_limit_ms(plan))
                if held:
                    conn.execute(self._sql.insert_reservation, {
                        "job_id": job_id, "user_id": user.user_id, "day": day, "reserved_ms": need,
                        "charged_ms": 0, "state": "reserved", "outcome": None, "created_ts": ts,
                        "expires_ts": expires_ts, "closed_ts": None})
                    self._audit(conn, ts, user.user_id, job_id, "reserve", need)
                else:
                    refused = self._balance_in(conn, user.user_id, plan, now, day)
        except IntegrityError as error:
            raise DuplicateJob(f"job id {job_id!r} already has a reservation") from error
        if not held:
            # Raised after the commit so expired reservations released above stay released.
            raise QuotaExceeded(need / 1000.0, refused, self.calendar.seconds_until_reset(now))
        expires_at = dt.datetime.fromtimestamp(expires_ts, dt.timezone.utc)
        return Reservation(job_id, user.user_id, need / 1000.0, day, expires_at)

    def settle(self, job_id: str, actual_seconds: float) -> Settlement:
        """Charges min(actual, reserved) and releases the rest. Repeating it changes nothing."""
        actual = to_ms(actual_seconds)
        _, ts, _ = self._now()
        with self.engine.begin() as conn:
            row = conn.execute(self._sql.settle, {"j": job_id, "actual": actual, "now": ts}).first()
            if row is None:
                return self._settle_closed(conn, job_id, actual, ts)
            user_id, day, reserved_ms, charged_ms = row
            conn.execute(self._sql.release_day,
                         {"u": user_id, "d": day, "released": reserved_ms, "charged": charged_ms})
            self._audit(conn, ts, user_id, job_id, "settle", charged_ms, "succeeded")
        return Settlement(job_id, True, "settled", charged_ms / 1000.0)

    def _settle_closed(self, conn: Connection, job_id: str, actual: int, ts: float) -> Settlement:
        """Settle on a job that is no longer open: a repeat (no-op), or a job that outlived its TTL."""
        row = conn.execute(self._sql.select_reservation, {"j": job_id}).first()
        if row is None:
            return Settlement(job_id, False, "unknown", 0.0)
        if row.state != "expired":
            return Settlement(job_id, False, row.state, row.charged_ms / 1000.0)
        # The job delivered after its reservation lapsed: charge what is still free that day, never more.
        charge = min(actual, row.reserved_ms, self._room_ms(conn, row.user_id, row.day))
        conn.execute(self._sql.settle_late, {"j": job_id, "charged": charge})
        conn.execute(self._sql.release_day, {"u": row.user_id, "d": row.day, "released": 0, "charged": charge})
        self._audit(conn, ts, row.user_id, job_id, "settle", charge, "settled_late")
        return Settlement(job_id, True, "settled", charge / 1000.0)

    def _room_ms(self, conn: Connection, user_id: str, day: dt.date) -> int:
        user_row = conn.execute(self._sql.select_user, {"u": user_id}).first()
        plan = self.plans.get(user_row.plan_override or user_row.plan)
        day_row = conn.execute(self._sql.select_day_for_update, {"u": user_id, "d": day}).first()
        limit = _plan_limit_ms(plan)
        if limit is None:
            return 2**62
        return max(0, limit + day_row.bonus_ms - day_row.used_ms - day_row.reserved_ms)

    def refund(self, job_id: str, outcome: str = "failed") -> Settlement:
        """Returns every reserved second (failure, cancel, safety block, crash). Repeating it changes nothing."""
        _, ts, _ = self._now()
        with self.engine.begin() as conn:
            row = conn.execute(self._sql.refund, {"j": job_id, "outcome": outcome, "now": ts}).first()
            if row is None:
                existing = conn.execute(self._sql.select_reservation, {"j": job_id}).first()
                state = existing.state if existing else "unknown"
                return Settlement(job_id, False, state, existing.charged_ms / 1000.0 if existing else 0.0)
            user_id, day, reserved_ms = row
            conn.execute(self._sql.release_day, {"u": user_id, "d": day, "released": reserved_ms, "charged": 0})
            self._audit(conn, ts, user_id, job_id, "refund", reserved_ms, outcome)
        return Settlement(job_id, True, "refunded", 0.0)

    def heartbeat(self, job_id: str, ttl_s: float | None = None) -> bool:
        """Pushes an open reservation's expiry out (for jobs that may run longer than the TTL)."""
        _, ts, _ = self._now()
        expires = ts + (ttl_s if ttl_s is not None else self.reservation_ttl_s)
        with self.engine.begin() as conn:
            return conn.execute(self._sql.heartbeat, {"j": job_id, "expires": expires}).rowcount == 1

    def reservation_state(self, job_id: str) -> str:
        """reserved | settled | refunded | expired | unknown (expiry is only noticed lazily)."""
        with self.engine.connect() as conn:
            row = conn.execute(self._sql.select_reservation, {"j": job_id}).first()
        return row.state if row else "unknown"

    # ---------------------------------------------------------------- balance
    def _balance_in(self, conn: Connection, user_id: str, plan: Plan, now: dt.datetime, day: dt.date) -> Balance:
        row = conn.execute(self._sql.select_day, {"u": user_id, "d": day}).first()
        used, reserved, bonus, previews = row if row else (0, 0, 0, 0)
        limit = _plan_limit_ms(plan)
        return Balance(
            plan=plan.name,
            used_s=used / 1000.0,
            reserved_s=reserved / 1000.0,
            limit_s=None if limit is None else (limit + bonus) / 1000.0,
            resets_at=self.calendar.next_reset(now),
            previews_today=previews,
        )

    def balance(self, user: User) -> Balance:
        now, ts, day = self._now()
        with self.engine.begin() as conn:
            plan = self._effective_plan(conn, user, ts)
            self._expire_user(conn, user.user_id, ts)
            return self._balance_in(conn, user.user_id, plan, now, day)

    # ---------------------------------------------------------------- free previews
    def take_preview(self, user: User) -> int:
        """Counts one free preview (no seconds); raises PreviewRateLimited past the per-minute or per-day
        limit of the user's plan. Returns the number of previews taken today."""
        now, ts, day = self._now()
        with self.engine.begin() as conn:
            plan = self._effective_plan(conn, user, ts)
            self._count_preview_today(conn, user.user_id, day, plan, now)
            if plan.previews_per_minute is not None:
                self._check_preview_minute(conn, user.user_id, plan.previews_per_minute, ts)
                conn.execute(self._sql.insert_preview, {"user_id": user.user_id, "ts": ts})
            row = conn.execute(self._sql.select_day, {"u": user.user_id, "d": day}).first()
            return int(row.previews)

    def _count_preview_today(self, conn: Connection, user_id: str, day: dt.date, plan: Plan,
                             now: dt.datetime) -> None:
        # Also locks the day row, which serialises this user's previews for the per-minute count below.
        limit = plan.previews_per_day
        stmt = self._sql.count_preview_unlimited if limit is None else self._sql.count_preview_limited
        params = {"u": user_id, "d": day, "limit": limit}
        if conn.execute(stmt, params).rowcount == 1:
            return
        self._ensure_day(conn, user_id, day)
        if conn.execute(stmt, params).rowcount == 0:
            raise PreviewRateLimited("day", limit or 0, self.calendar.seconds_until_reset(now))

    def _check_preview_minute(self, conn: Connection, user_id: str, limit: int, ts: float) -> None:
        since = ts - PREVIEW_WINDOW_S
        conn.execute(self._sql.prune_previews, {"u": user_id, "since": since})
        count, oldest = conn.execute(self._sql.count_recent_previews, {"u": user_id, "since": since}).one()
        if count >= limit:
            # Raising rolls the whole transaction back, including the per-day count above.
            raise PreviewRateLimited("minute", limit, max(1.0, oldest + PREVIEW_WINDOW_S - ts))

    # ---------------------------------------------------------------- admin (teacher) operations
    def usage_today(self) -> list[UsageRow]:
        """Today's usage: every user active today plus every named (non-anonymous) user."""
        self.sweep_expired()
        _, _, day = self._now()
        joined = users.outerjoin(days, and_(days.c.user_id == users.c.user_id, days.c.day == day))
        query = (
            select(users.c.user_id, users.c.display_name, users.c.source, users.c.plan, users.c.plan_override,
                   days.c.used_ms, days.c.reserved_ms, days.c.bonus_ms, days.c.previews)
            .select_from(joined)
            .where(or_(days.c.user_id.is_not(None), users.c.source != "anonymous"))
            .order_by(days.c.used_ms.desc().nulls_last(), users.c.user_id)
        )
        with self.engine.connect() as conn:
            return [self._usage_row(row) for row in conn.execute(query)]

    def _usage_row(self, row: Any) -> UsageRow:
        plan = self.plans.get(row.plan_override or row.plan)
        limit = _plan_limit_ms(plan)
        bonus = row.bonus_ms or 0
        return UsageRow(
            user_id=row.user_id, display_name=row.display_name, source=row.source, plan=plan.name,
            used_s=(row.used_ms or 0) / 1000.0, reserved_s=(row.reserved_ms or 0) / 1000.0,
            limit_s=None if limit is None else (limit + bonus) / 1000.0, previews=row.previews or 0,
        )

    def user_usage(self, user_id: str) -> UsageRow:
        _, _, day = self._now()
        with self.engine.connect() as conn:
            return self._user_usage_in(conn, user_id, day)

    def _user_usage_in(self, conn: Connection, user_id: str, day: dt.date) -> UsageRow:
        joined = users.outerjoin(days, and_(days.c.user_id == users.c.user_id, days.c.day == day))
        query = (
            select(users.c.user_id, users.c.display_name, users.c.source, users.c.plan, users.c.plan_override,
                   days.c.used_ms, days.c.reserved_ms, days.c.bonus_ms, days.c.previews)
            .select_from(joined)
            .where(users.c.user_id == user_id)
        )
        row = conn.execute(query).first()
        if row is None:
            raise KeyError(f"unknown user {user_id!r}")
        return self._usage_row(row)

    def _require_user(self, conn: Connection, user_id: str) -> None:
        if conn.execute(self._sql.select_user, {"u": user_id}).first() is None:
            raise KeyError(f"unknown user {user_id!r}")

    def top_up(self, user_id: str, seconds: float) -> UsageRow:
        """Adds `seconds` to the user's allowance for today only."""
        bonus = to_ms(seconds)
        _, ts, day = self._now()
        with self.engine.begin() as conn:
            self._require_user(conn, user_id)
            self._ensure_day(conn, user_id, day)
            conn.execute(self._sql.add_bonus, {"u": user_id, "d": day, "bonus": bonus})
            self._audit(conn, ts, user_id, None, "top_up", bonus, "admin")
            return self._user_usage_in(conn, user_id, day)

    def reset_user(self, user_id: str) -> UsageRow:
        """Gives the user today's budget and previews back (running jobs keep their reservations)."""
        _, ts, day = self._now()
        with self.engine.begin() as conn:
            self._require_user(conn, user_id)
            self._ensure_day(conn, user_id, day)
            used = conn.execute(self._sql.select_day, {"u": user_id, "d": day}).one().used_ms
            conn.execute(self._sql.reset_day, {"u": user_id, "d": day})
            conn.execute(self._sql.clear_previews, {"u": user_id})
            self._audit(conn, ts, user_id, None, "reset", used, "admin")
            return self._user_usage_in(conn, user_id, day)

    def set_plan(self, user_id: str, plan: str) -> UsageRow:
        """Pins a plan for the user; it wins over the plan their identity brings, until changed again."""
        self.plans.get(plan)  # validates the name
        _, ts, day = self._now()
        with self.engine.begin() as conn:
            conn.execute(self._sql.insert_user, {"user_id": user_id, "display_name": user_id, "source": "admin",
                                                 "plan": plan, "plan_override": None, "created_ts": ts})
            conn.execute(users.update().where(users.c.user_id == user_id).values(plan_override=plan))
            self._audit(conn, ts, user_id, None, "plan", 0, "admin", detail=plan)
            return self._user_usage_in(conn, user_id, day)

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
