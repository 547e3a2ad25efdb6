"""The quota ledger on SQLite and on a real PostgreSQL server: reserve/settle/refund, expiry after a crash,
day rollover and time zones (controlled clock), free-preview limits and the admin operations."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from vidgen.quota import (
    DuplicateJob,
    Ledger,
    ManualClock,
    PlanBook,
    PreviewRateLimited,
    QuotaExceeded,
    User,
)
from vidgen.quota.__main__ import main as quota_cli
from vidgen.quota.schema import days, reservations
from vidgen.quota.testing import postgres_schema, postgres_test_url

REPO = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc
ALICE = User("roster:alice", "free", "Alice", "roster")
BOB = User("roster:bob", "free", "Bob", "roster")
NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

LedgerFactory = Callable[..., Ledger]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/quota.db"
        return
    url = postgres_test_url()
    if url is None:
        pytest.skip("VIDGEN_TEST_POSTGRES_URL unset; run: eval \"$(scripts/start_postgres.sh)\"")
    with postgres_schema(url) as schema_url:
        yield schema_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOON)


@pytest.fixture
def make_ledger(ledger_url: str, clock: ManualClock) -> Iterator[LedgerFactory]:
    made: list[Ledger] = []

    def make(**kwargs: object) -> Ledger:
        kwargs.setdefault("clock", clock)
        ledger = Ledger(url=ledger_url, **kwargs)  # type: ignore[arg-type]
        made.append(ledger)
        return ledger

    yield make
    for ledger in made:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: LedgerFactory) -> Ledger:
    return make_ledger()


def open_reservations_match(ledger: Ledger, user_id: str) -> bool:
    """The day counters agree with the reservation rows (nothing leaked or double-released)."""
    with ledger.engine.connect() as conn:
        held = conn.execute(select(func.coalesce(func.sum(days.c.reserved_ms), 0))
                            .where(days.c.user_id == user_id)).scalar_one()
        rows = conn.execute(select(func.coalesce(func.sum(reservations.c.reserved_ms), 0)).where(
            reservations.c.user_id == user_id, reservations.c.state == "reserved")).scalar_one()
    return int(held) == int(rows)


# ------------------------------------------------------------------ reserve / settle / refund
def test_reserve_settle_charges_actual_and_releases_rest(ledger: Ledger) -> None:
    res = ledger.reserve(ALICE, "job-1", 8)
    assert res.seconds == 8 and res.expires_at == NOON + dt.timedelta(seconds=900)
    mid = ledger.balance(ALICE)
    assert (mid.used_s, mid.reserved_s, mid.remaining_s, mid.limit_s) == (0, 8, 96, 104)
    done = ledger.settle("job-1", 5.5)
    assert done.applied and done.charged_s == 5.5
    after = ledger.balance(ALICE)
    assert (after.used_s, after.reserved_s, after.remaining_s) == (5.5, 0, 98.5)
    assert after.summary().startswith("98.5 s left today")
    assert after.cost_line(4) == "This clip uses 4 s; 98.5 s left today"


def test_settle_never_charges_more_than_reserved(ledger: Ledger) -> None:
    ledger.reserve(ALICE, "job-1", 4)
    assert ledger.settle("job-1", 9).charged_s == 4
    assert ledger.balance(ALICE).used_s == 4


def test_settle_is_idempotent(ledger: Ledger) -> None:
    ledger.reserve(ALICE, "job-1", 10)
    first = ledger.settle("job-1", 7)
    again = [ledger.settle("job-1", 7), ledger.settle("job-1", 3), ledger.refund("job-1", "crashed")]
    assert first.applied and not any(s.applied for s in again)
    assert all(s.state == "settled" and s.charged_s == 7 for s in again)
    assert ledger.balance(ALICE).used_s == 7 and ledger.balance(ALICE).reserved_s == 0
    assert [e["event"] for e in ledger.audit_log(ALICE.user_id)] == ["settle"]  # one row per outcome


def test_failed_pipeline_call_refunds_in_full(ledger: Ledger) -> None:
    def pipeline() -> None:
        raise RuntimeError("CUDA out of memory")

    ledger.reserve(ALICE, "job-1", 30)
    try:
        pipeline()
        ledger.settle("job-1", 30)
    except RuntimeError:
        assert ledger.refund("job-1", "failed").applied
    assert ledger.balance(ALICE).remaining_s == 104
    assert not ledger.refund("job-1", "failed").applied  # idempotent
    assert ledger.settle("job-1", 30).state == "refunded"  # a refund is final
    assert ledger.balance(ALICE).used_s == 0
    log = ledger.audit_log(ALICE.user_id)
    assert (log[0]["event"], log[0]["outcome"], log[0]["seconds"], log[0]["job_id"]) == \
        ("refund", "failed", 30, "job-1")


@pytest.mark.parametrize("outcome", ["cancelled", "blocked", "crashed"])
def test_every_refund_outcome_is_recorded(ledger: Ledger, outcome: str) -> None:
    ledger.reserve(ALICE, "job", 3)
    ledger.refund("job", outcome)
    assert ledger.audit_log(ALICE.user_id)[0]["outcome"] == outcome
    assert ledger.reservation_state("job") == "refunded"


def test_unknown_job_is_a_no_op(ledger: Ledger) -> None:
    assert ledger.settle("nope", 3).state == "unknown"
    assert not ledger.refund("nope").applied


def test_duplicate_job_id_is_refused_without_charging(ledger: Ledger) -> None:
    ledger.reserve(ALICE, "job-1", 10)
    with pytest.raises(DuplicateJob):
        ledger.reserve(ALICE, "job-1", 10)
    assert ledger.balance(ALICE).reserved_s == 10


def test_fractional_seconds_do_not_drift(ledger: Ledger) -> None:
    for i in range(30):
        ledger.reserve(ALICE, f"j{i}", 0.1)
        ledger.settle(f"j{i}", 0.1)
    assert ledger.balance(ALICE).used_s == pytest.approx(3.0, abs=1e-9)


def test_invalid_seconds(ledger: Ledger) -> None:
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            ledger.reserve(ALICE, "bad", bad)


# ------------------------------------------------------------------ refusal message
def test_limit_message_says_when_it_resets(ledger: Ledger, clock: ManualClock) -> None:
    clock.set(dt.datetime(2026, 6, 1, 18, 47, 57, tzinfo=UTC))
    ledger.reserve(ALICE, "big", 100)
    ledger.settle("big", 100)
    with pytest.raises(QuotaExceeded) as caught:
        ledger.reserve(ALICE, "more", 8)
    error = caught.value
    assert "Try again in 5:12:03" in str(error)
    assert "8 s" in str(error) and "4 s" in str(error)
    assert error.retry_after_s == 5 * 3600 + 12 * 60 + 3
    assert error.balance.remaining_s == 4 and error.needed_s == 8
    ledger.reserve(ALICE, "fits", 4)  # what is left can still be spent


def test_clip_larger_than_the_whole_plan(ledger: Ledger) -> None:
    with pytest.raises(QuotaExceeded, match="more than the free plan's daily 104 s"):
        ledger.reserve(ALICE, "huge", 200)


def test_seconds_held_by_running_jobs_are_explained(ledger: Ledger) -> None:
    ledger.reserve(ALICE, "running", 100)
    with pytest.raises(QuotaExceeded, match="held by jobs still running"):
        ledger.reserve(ALICE, "second", 10)


def test_users_have_separate_budgets(ledger: Ledger) -> None:
    ledger.reserve(ALICE, "a", 104)
    ledger.reserve(BOB, "b", 104)
    assert ledger.balance(BOB).remaining_s == 0 and ledger.balance(ALICE).remaining_s == 0


def test_admin_plan_is_unlimited(ledger: Ledger) -> None:
    teacher = User("roster:teacher", "admin", "Teacher", "roster")
    for i in range(5):
        ledger.reserve(teacher, f"t{i}", 10_000)
    balance = ledger.balance(teacher)
    assert balance.limit_s is None and balance.remaining_s is None and balance.reserved_s == 50_000
    assert ledger.is_admin(teacher) and not ledger.is_admin(ALICE)
    assert balance.summary().startswith("Unlimited")


# ------------------------------------------------------------------ expiry (crash) with a controlled clock
def test_expired_reservation_is_released_lazily(ledger: Ledger, clock: ManualClock) -> None:
    ledger.reserve(ALICE, "stuck", 100)
    clock.advance(899)
    with pytest.raises(QuotaExceeded):
        ledger.reserve(ALICE, "next", 10)
    clock.advance(1)  # TTL reached
    assert ledger.balance(ALICE).reserved_s == 0
    assert ledger.reservation_state("stuck") == "expired"
    ledger.reserve(ALICE, "next", 104)
    expired = ledger.audit_log(ALICE.user_id)[0]
    assert (expired["event"], expired["job_id"], expired["seconds"]) == ("expire", "stuck", 100)


def test_late_settle_of_expired_job_never_overspends(ledger: Ledger, clock: ManualClock) -> None:
    ledger.reserve(ALICE, "slow", 50)
    clock.advance(1000)
    ledger.reserve(ALICE, "other", 80)  # sweeps "slow", leaves 24 s free
    late = ledger.settle("slow", 40)
    assert late.applied and late.charged_s == 24  # only what was still free
    balance = ledger.balance(ALICE)
    assert balance.used_s + balance.reserved_s == 104
    assert not ledger.settle("slow", 40).applied


def test_heartbeat_keeps_a_long_job_alive(ledger: Ledger, clock: ManualClock) -> None:
    ledger.reserve(ALICE, "long", 60)
    clock.advance(800)
    assert ledger.heartbeat("long")
    clock.advance(800)
    assert ledger.balance(ALICE).reserved_s == 60
    ledger.settle("long", 60)
    assert not ledger.heartbeat("long")


def test_sweep_expired_releases_every_user(ledger: Ledger, clock: ManualClock) -> None:
    ledger.reserve(ALICE, "a", 10)
    ledger.reserve(BOB, "b", 10)
    clock.advance(901)
    assert ledger.sweep_expired() == 2
    assert {row.reserved_s for row in ledger.usage_today()} == {0}


CRASH_CHILD = """
import datetime as dt, sys, time
from vidgen.quota import Ledger, ManualClock, User
clock = ManualClock(dt.datetime.fromtimestamp(float(sys.argv[2]), dt.timezone.utc))
ledger = Ledger(url=sys.argv[1], clock=clock, reservation_ttl_s=900)
ledger.reserve(User("roster:alice", "free", "Alice", "roster"), "killed-job", 80)
print("reserved", flush=True)
time.sleep(600)
"""


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=REPO)


def test_job_killed_mid_run_leaves_nothing_locked_after_ttl(
    ledger_url: str, ledger: Ledger, clock: ManualClock
) -> None:
    worker = _child(CRASH_CHILD, ledger_url, str(NOON.timestamp()))
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "reserved"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    assert ledger.balance(ALICE).reserved_s == 80  # the dead worker's seconds are held ...
    with pytest.raises(QuotaExceeded):
        ledger.reserve(ALICE, "meanwhile", 30)
    clock.advance(900)  # ... until the TTL, then released without any background thread
    balance = ledger.balance(ALICE)
    assert (balance.used_s, balance.reserved_s, balance.remaining_s) == (0, 0, 104)
    ledger.reserve(ALICE, "after", 104)
    assert open_reservations_match(ledger, ALICE.user_id)


HOT_CHILD = """
import sys, uuid
from vidgen.quota import Ledger, User
ledger = Ledger(url=sys.argv[1])
user = User("roster:teacher", "admin", "Teacher", "roster")
print("running", flush=True)
while True:
    job = uuid.uuid4().hex
    ledger.reserve(user, job, 1)
    ledger.settle(job, 1)
"""


def test_worker_killed_inside_transactions_leaves_no_lock_and_consistent_counts(
    ledger_url: str, make_ledger: LedgerFactory
) -> None:
    ledger = make_ledger(clock=None)
    teacher = User("roster:teacher", "admin", "Teacher", "roster")
    ledger.balance(teacher)
    for _ in range(3):
        worker = _child(HOT_CHILD, ledger_url)
        assert worker.stdout is not None and worker.stdout.readline().strip() == "running"
        ledger.reserve(teacher, f"probe-{worker.pid}", 1)  # runs while the worker hammers the database
        time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        ledger.settle(f"probe-{worker.pid}", 1)  # no lock was left behind by the killed process
        assert open_reservations_match(ledger, teacher.user_id)


# ------------------------------------------------------------------ day rollover and time zones
def test_budget_resets_at_midnight_utc(ledger: Ledger, clock: ManualClock) -> None:
    clock.set(dt.datetime(2026, 6, 1, 23, 59, 59, tzinfo=UTC))
    ledger.reserve(ALICE, "late", 104)
    balance = ledger.balance(ALICE)
    assert balance.resets_at == dt.datetime(2026, 6, 2, tzinfo=UTC)
    with pytest.raises(QuotaExceeded) as caught:
        ledger.reserve(ALICE, "x", 1)
    assert "Try again in 0:00:01" in str(caught.value)
    clock.advance(2)
    assert ledger.balance(ALICE).remaining_s == 104
    # a job reserved yesterday and settled today is charged to yesterday
    ledger.settle("late", 104)
    assert ledger.balance(ALICE).used_s == 0
    ledger.reserve(ALICE, "today", 104)


def test_reset_follows_configured_zone_across_dst(make_ledger: LedgerFactory, clock: ManualClock) -> None:
    ledger = make_ledger(timezone="America/New_York")
    # 2026-03-08 00:30 EST; clocks jump 02:00 -> 03:00, so this day has 23 hours
    clock.set(dt.datetime(2026, 3, 8, 5, 30, tzinfo=UTC))
    ledger.reserve(ALICE, "a", 104)
    with pytest.raises(QuotaExceeded) as caught:
        ledger.reserve(ALICE, "b", 1)
    assert caught.value.retry_after_s == 22.5 * 3600  # not 23.5 h of wall clock
    assert "Try again in 22:30:00" in str(caught.value)
    resets = caught.value.balance.resets_at
    assert resets.utcoffset() == dt.timedelta(hours=-4) and (resets.hour, resets.minute) == (0, 0)
    ledger.settle("a", 104)
    clock.set(dt.datetime(2026, 3, 9, 3, 59, 59, tzinfo=UTC))  # 23:59:59 EDT: still the same day
    assert ledger.balance(ALICE).remaining_s == 0
    clock.advance(1)
    assert ledger.balance(ALICE).remaining_s == 104


def test_half_hour_zone_boundary(make_ledger: LedgerFactory, clock: ManualClock) -> None:
    ledger = make_ledger(timezone="Asia/Kolkata")  # UTC+5:30: midnight is 18:30 UTC
    clock.set(dt.datetime(2026, 6, 1, 18, 29, tzinfo=UTC))
    ledger.reserve(ALICE, "a", 104)
    assert ledger.balance(ALICE).remaining_s == 0
    clock.set(dt.datetime(2026, 6, 1, 18, 30, tzinfo=UTC))
    assert ledger.balance(ALICE).remaining_s == 104


# ------------------------------------------------------------------ free previews
def test_previews_are_free_but_limited_per_minute(ledger: Ledger, clock: ManualClock) -> None:
    per_minute = ledger.plans.get("free").previews_per_minute
    assert per_minute is not None
    for i in range(per_minute):
        assert ledger.take_preview(ALICE) == i + 1
        clock.advance(1)
    with pytest.raises(PreviewRateLimited) as caught:
        ledger.take_preview(ALICE)
    assert caught.value.window == "minute"
    assert "Preview limit reached" in str(caught.value) and "Try again in 0:00:54" in str(caught.value)
    clock.advance(54)  # the first preview leaves the sliding window
    assert ledger.take_preview(ALICE) == per_minute + 1
    balance = ledger.balance(ALICE)
    assert balance.used_s == 0 and balance.remaining_s == 104 and balance.previews_today == per_minute + 1


def test_previews_limited_per_day(make_ledger: LedgerFactory, clock: ManualClock) -> None:
    plans = PlanBook.from_mapping({
        name: {"daily_seconds": 104, "previews_per_minute": None, "previews_per_day": 3}
        for name in PlanBook.REQUIRED
    })
    ledger = make_ledger(plans=plans)
    for _ in range(3):
        ledger.take_preview(ALICE)
    with pytest.raises(PreviewRateLimited, match="3 free previews a day") as caught:
        ledger.take_preview(ALICE)
    assert caught.value.window == "day" and caught.value.retry_after_s == 12 * 3600
    clock.advance(12 * 3600)
    assert ledger.take_preview(ALICE) == 1


def test_admin_previews_are_unlimited(ledger: Ledger) -> None:
    teacher = User("roster:teacher", "admin", "Teacher", "roster")
    assert [ledger.take_preview(teacher) for _ in range(50)][-1] == 50


# ------------------------------------------------------------------ admin operations
def test_usage_today_lists_named_and_active_users(ledger: Ledger) -> None:
    idle_visitor = User("anon:0123", "anonymous", "anonymous-0123", "anonymous")
    active_visitor = User("anon:4567", "anonymous", "anonymous-4567", "anonymous")
    ledger.balance(idle_visitor)
    ledger.balance(BOB)
    ledger.reserve(ALICE, "a", 10)
    ledger.settle("a", 10)
    ledger.reserve(active_visitor, "v", 5)
    rows = {row.user_id: row for row in ledger.usage_today()}
    assert set(rows) == {ALICE.user_id, BOB.user_id, active_visitor.user_id}
    assert (rows[ALICE.user_id].used_s, rows[ALICE.user_id].remaining_s) == (10, 94)
    assert rows[active_visitor.user_id].reserved_s == 5 and rows[active_visitor.user_id].limit_s == 30
    assert list(rows)[0] == ALICE.user_id  # heaviest user first


def test_top_up_and_reset(ledger: Ledger) -> None:
    ledger.reserve(ALICE, "a", 104)
    ledger.settle("a", 104)
    row = ledger.top_up(ALICE.user_id, 20)
    assert row.limit_s == 124 and row.remaining_s == 20
    ledger.reserve(ALICE, "b", 20)
    ledger.settle("b", 20)
    row = ledger.reset_user(ALICE.user_id)
    assert row.used_s == 0 and row.remaining_s == 124
    events = [entry["event"] for entry in ledger.audit_log(ALICE.user_id)]
    assert events[:1] == ["reset"] and "top_up" in events
    with pytest.raises(KeyError):
        ledger.top_up("roster:nobody", 5)


def test_top_up_lasts_only_today(ledger: Ledger, clock: ManualClock) -> None:
    ledger.balance(ALICE)
    ledger.top_up(ALICE.user_id, 50)
    assert ledger.balance(ALICE).limit_s == 154
    clock.advance(24 * 3600)
    assert ledger.balance(ALICE).limit_s == 104


def test_set_plan_sticks_and_overrides_identity(make_ledger: LedgerFactory, ledger: Ledger) -> None:
    ledger.reserve(ALICE, "a", 100)
    ledger.set_plan(ALICE.user_id, "pro")
    fresh = make_ledger()  # a new process would see the same
    assert fresh.balance(ALICE).plan == "pro" and fresh.balance(ALICE).limit_s == 3600
    fresh.reserve(ALICE, "b", 1000)
    ledger.set_plan("roster:newcomer", "admin")  # before they ever log in
    assert ledger.is_admin(User("roster:newcomer", "free", "Newcomer", "roster"))
    with pytest.raises(ValueError, match="unknown plan"):
        ledger.set_plan(ALICE.user_id, "platinum")


def test_admin_cli(ledger_url: str, ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    ledger.balance(ALICE)
    assert quota_cli(["top-up", ALICE.user_id, "10", "--db", ledger_url]) == 0
    assert quota_cli(["set-plan", ALICE.user_id, "pro", "--db", ledger_url]) == 0
    assert quota_cli(["usage", "--db", ledger_url]) == 0
    out = capsys.readouterr().out
    assert "roster:alice" in out and "pro" in out
    assert quota_cli(["reset", "roster:ghost", "--db", ledger_url]) == 2
    capsys.readouterr()
    assert quota_cli(["audit", ALICE.user_id, "--db", ledger_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines] == ["plan", "top_up"]


# ------------------------------------------------------------------ transient database aborts
def test_deadlock_victim_is_retried(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL aborts one side of a deadlock with SQLSTATE 40P01; the operation runs again."""

    class Deadlock(Exception):
        sqlstate = "40P01"

    real_hold = Ledger._hold
    calls = {"n": 0}

    def hold_failing_once(self: Ledger, *args: object) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Deadlock("deadlock detected")
        return real_hold(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "_hold", hold_failing_once)
    ledger.reserve(ALICE, "job", 10)
    assert calls["n"] == 2 and ledger.balance(ALICE).reserved_s == 10  # the aborted try left nothing behind


def test_database_from_another_schema_version_is_refused(ledger_url: str, ledger: Ledger) -> None:
    from sqlalchemy import update

    from vidgen.quota.schema import meta

    with ledger.engine.begin() as conn:
        conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="1"))
    with pytest.raises(RuntimeError, match="schema version 1"):
        Ledger(url=ledger_url)
