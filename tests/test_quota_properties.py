"""Property tests (hypothesis): the ledger agrees with a plain-Python model under random sequences of
reserve / settle / refund / top-up / reset / time jumps, and its invariants always hold:
used + reserved <= limit + top-ups, nothing negative, held seconds == open reservations, settle and refund
idempotent. Runs on in-memory SQLite, and on PostgreSQL when the test server is configured."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from vidgen.quota import Ledger, ManualClock, PlanBook, QuotaExceeded, User
from vidgen.quota.clock import day_from_key
from vidgen.quota.ledger import to_ms
from vidgen.quota.schema import days, reservations
from vidgen.quota.testing import postgres_schema, postgres_test_url

TTL_S = 900
PLANS = PlanBook.load()
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Pacific/Kiritimati"]
seconds = st.one_of(st.integers(1, 60).map(float), st.floats(0.001, 60, allow_nan=False).map(lambda s: round(s, 3)))
UTC_ONLY = st.just(dt.timezone.utc)
user_names = st.sampled_from(["anon", "free", "pro"])


@dataclass
class Job:
    user_id: str
    day: dt.date
    ms: int
    expires_ts: float
    state: str = "reserved"
    charged: int = 0


class LedgerMachine(RuleBasedStateMachine):
    jobs = Bundle("jobs")

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.prefix = uuid.uuid4().hex[:8]  # isolates examples sharing one PostgreSQL schema
        self.users = {name: User(f"{self.prefix}:{name}", plan, name, "roster")
                      for name, plan in (("anon", "anonymous"), ("free", "free"), ("pro", "pro"))}
        self.model_days: dict[tuple[str, dt.date], list[int]] = {}  # used, reserved, bonus
        self.model_jobs: dict[str, Job] = {}
        self.ledger: Ledger | None = None

    @initialize(start=st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2026, 12, 31), timezones=UTC_ONLY),
                zone=st.sampled_from(ZONES))
    def start(self, start: dt.datetime, zone: str) -> None:
        self.clock = ManualClock(start)
        self.zone = ZoneInfo(zone)
        self.ledger = Ledger(url=self.url, plans=PLANS, timezone=zone, reservation_ttl_s=TTL_S, clock=self.clock)

    def teardown(self) -> None:
        if self.ledger is not None:
            self.ledger.close()

    # ------------------------------------------------------------ model helpers
    def today(self) -> dt.date:
        return self.clock().astimezone(self.zone).date()

    def counters(self, user_id: str, day: dt.date) -> list[int]:
        return self.model_days.setdefault((user_id, day), [0, 0, 0])

    def limit_ms(self, user_id: str) -> int | None:
        name = user_id.split(":", 1)[1]
        daily = PLANS.get(self.users[name].plan).daily_seconds
        return None if daily is None else to_ms(daily)

    def sweep(self, user_id: str) -> None:
        now = self.clock().timestamp()
        for job in self.model_jobs.values():
            if job.user_id == user_id and job.state == "reserved" and job.expires_ts <= now:
                job.state = "expired"
                self.counters(job.user_id, job.day)[1] -= job.ms

    def room_ms(self, user_id: str, day: dt.date) -> int:
        used, reserved, bonus = self.counters(user_id, day)
        limit = self.limit_ms(user_id)
        return 2**62 if limit is None else limit + bonus - used - reserved

    # ------------------------------------------------------------ rules
    @rule(target=jobs, name=user_names, amount=seconds)
    def reserve(self, name: str, amount: float) -> object:
        return self._reserve(name, amount)

    @rule(target=jobs, name=user_names, extra_ms=st.sampled_from([0, 0, 0, 1]))
    def reserve_the_rest(self, name: str, extra_ms: int) -> object:
        """Exactly what is left (must fit), or one millisecond more (must not): the boundary."""
        user_id = self.users[name].user_id
        self.ledger.balance(self.users[name])  # balance() releases expired reservations; so does the model
        self.sweep(user_id)
        room = self.room_ms(user_id, self.today())
        if self.limit_ms(user_id) is None or room + extra_ms <= 0:
            return multiple()
        return self._reserve(name, (room + extra_ms) / 1000.0)

    def _reserve(self, name: str, amount: float) -> object:
        user = self.users[name]
        need, day = to_ms(amount), self.today()
        fits = need <= self.room_ms(user.user_id, day)
        if not fits:  # the ledger releases expired reservations only when they stand in the way
            self.sweep(user.user_id)
            fits = need <= self.room_ms(user.user_id, day)
        job_id = uuid.uuid4().hex
        try:
            self.ledger.reserve(user, job_id, amount)
        except QuotaExceeded as error:
            assert not fits, "refused although it fitted"
            assert "Try again in" in str(error) or "more than" in str(error)
            assert 0 < error.retry_after_s <= 26 * 3600
            return multiple()
        assert fits, "granted although it did not fit"
        self.counters(user.user_id, day)[1] += need
        self.model_jobs[job_id] = Job(user.user_id, day, need, self.clock().timestamp() + TTL_S)
        return job_id

    @rule(job_id=jobs, actual=st.floats(0, 80).map(lambda s: round(s, 3)))
    def settle(self, job_id: str, actual: float) -> None:
        job, want = self.model_jobs[job_id], to_ms(actual)
        result = self.ledger.settle(job_id, actual)
        counts = self.counters(job.user_id, job.day)
        if job.state == "reserved":
            job.state, job.charged = "settled", min(want, job.ms)
            counts[0] += job.charged
            counts[1] -= job.ms
            assert result.applied
        elif job.state == "expired":
            job.state, job.charged = "settled", min(want, job.ms, max(0, self.room_ms(job.user_id, job.day)))
            counts[0] += job.charged
            assert result.applied
        else:
            assert not result.applied
        assert result.state == job.state and to_ms(result.charged_s) == job.charged

    @rule(job_id=jobs, outcome=st.sampled_from(["failed", "cancelled", "blocked", "crashed"]))
    def refund(self, job_id: str, outcome: str) -> None:
        job = self.model_jobs[job_id]
        result = self.ledger.refund(job_id, outcome)
        if job.state == "reserved":
            job.state = "refunded"
            self.counters(job.user_id, job.day)[1] -= job.ms
            assert result.applied
        else:
            assert not result.applied and result.state == job.state

    @rule(job_id=consumes(jobs))
    def settle_twice(self, job_id: str) -> None:
        self.settle(job_id, 1.0)
        before = self.snapshot()
        assert not self.ledger.settle(job_id, 5.0).applied
        assert not self.ledger.refund(job_id).applied
        assert self.snapshot() == before

    @rule(amount=st.sampled_from([1, 59, 600, 899, 900, 901, 1200, 3600, 6 * 3600, 20 * 3600]))
    def advance(self, amount: int) -> None:
        self.clock.advance(amount)

    @rule(name=user_names, amount=seconds)
    def top_up(self, name: str, amount: float) -> None:
        user = self.users[name]
        self.ledger.balance(user)
        self.sweep(user.user_id)
        self.ledger.top_up(user.user_id, amount)
        self.counters(user.user_id, self.today())[2] += to_ms(amount)

    @rule(name=user_names)
    def reset(self, name: str) -> None:
        user = self.users[name]
        self.ledger.balance(user)
        self.sweep(user.user_id)
        self.ledger.reset_user(user.user_id)
        self.counters(user.user_id, self.today())[0] = 0

    @rule(name=user_names)
    def balance(self, name: str) -> None:
        user = self.users[name]
        balance = self.ledger.balance(user)
        self.sweep(user.user_id)
        used, reserved, bonus = self.counters(user.user_id, self.today())
        assert (to_ms(balance.used_s), to_ms(balance.reserved_s)) == (used, reserved)
        limit = self.limit_ms(user.user_id)
        if limit is None:
            assert balance.limit_s is None and balance.remaining_s is None
        else:
            assert to_ms(balance.limit_s) == limit + bonus
            assert balance.remaining_s >= 0
        assert balance.resets_at > self.clock()
        assert balance.resets_at - self.clock() <= dt.timedelta(hours=25)

    # ------------------------------------------------------------ invariants
    def snapshot(self) -> dict[tuple[str, dt.date], tuple[int, int, int]]:
        with self.ledger.engine.connect() as conn:
            rows = conn.execute(select(days.c.user_id, days.c.day, days.c.used_ms, days.c.reserved_ms,
                                       days.c.bonus_ms).where(days.c.user_id.like(f"{self.prefix}:%"))).all()
        return {(r.user_id, day_from_key(r.day)): (r.used_ms, r.reserved_ms, r.bonus_ms) for r in rows}

    @invariant()
    def database_matches_model_and_never_overspends(self) -> None:
        if self.ledger is None:
            return
        snapshot = self.snapshot()
        for key, (used, reserved, bonus) in snapshot.items():
            assert used >= 0 and reserved >= 0 and bonus >= 0
            limit = self.limit_ms(key[0])
            assert limit is None or used + reserved <= limit + bonus, f"overspent {key}"
            assert self.model_days.get(key, [0, 0, 0]) == [used, reserved, bonus]
        with self.ledger.engine.connect() as conn:
            open_rows = conn.execute(select(reservations.c.user_id, reservations.c.day, reservations.c.reserved_ms)
                                     .where(reservations.c.state == "reserved",
                                            reservations.c.user_id.like(f"{self.prefix}:%"))).all()
        held: dict[tuple[str, dt.date], int] = {}
        for user_id, key, ms in open_rows:
            day = day_from_key(key)
            held[(user_id, day)] = held.get((user_id, day), 0) + ms
        assert {k: v[1] for k, v in snapshot.items() if v[1]} == held


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], stateful_step_count=40)


def test_ledger_model_sqlite() -> None:
    run_state_machine_as_test(lambda: LedgerMachine("sqlite://"), settings=settings(max_examples=120, **SETTINGS))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = postgres_test_url()
    if url is None:
        pytest.skip("VIDGEN_TEST_POSTGRES_URL unset; run: eval \"$(scripts/start_postgres.sh)\"")
    with postgres_schema(url) as schema_url:
        yield schema_url


@pytest.mark.postgres
def test_ledger_model_postgres(postgres_url: str) -> None:
    run_state_machine_as_test(lambda: LedgerMachine(postgres_url), settings=settings(max_examples=20, **SETTINGS))
