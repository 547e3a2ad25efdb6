"""Concurrency: 50 threads and 4 processes race to reserve for one user with a 104-s budget; the total
reserved never exceeds the budget, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vidgen.quota import Ledger
from vidgen.quota.race import run_race
from vidgen.quota.testing import postgres_schema, postgres_test_url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = postgres_test_url()  # raises under CI=true when unset, so CI cannot silently skip
    if url is None:
        pytest.skip("VIDGEN_TEST_POSTGRES_URL unset; run: eval \"$(scripts/start_postgres.sh)\"")
    with postgres_schema(url) as schema_url:
        yield schema_url


def assert_budget_filled_exactly(url: str) -> None:
    result = run_race(url, threads=50, processes=4, threads_per_process=4)
    assert result.errors == []
    assert result.overspend_s == 0
    # Whole-second requests, and every worker stops only when even 1 s is refused: the budget is full.
    assert result.granted_s == result.ledger_reserved_s == result.reservations_s == result.budget_s == 104
    assert result.refused >= 50 + 4 * 4  # every worker was refused at least once: they really raced


def test_race_sqlite(tmp_path: Path) -> None:
    assert_budget_filled_exactly(f"sqlite:///{tmp_path}/race.db")


@pytest.mark.postgres
def test_race_postgres(postgres_url: str) -> None:
    assert_budget_filled_exactly(postgres_url)


class CheckThenActLedger(Ledger):
    """A deliberately wrong ledger (read the balance, then write) to show the race can catch overspend."""

    def _hold(self, tx, user_id, day, need, limit):  # type: ignore[no-untyped-def]
        self._ensure_day(tx, user_id, day)
        used, reserved, bonus, _ = tx.one(self._sql.select_day, {"u": user_id, "d": day})
        if limit is not None and used + reserved + need > limit + bonus:
            return False
        time.sleep(0.005)  # widen the window another worker can slip into
        tx.execute(self._sql.reserve_unlimited, {"u": user_id, "d": day, "need": need})
        return True


@pytest.mark.postgres
def test_race_detects_a_check_then_act_ledger(postgres_url: str) -> None:
    result = run_race(postgres_url, threads=50, processes=0, ledger_class=CheckThenActLedger)
    assert result.errors == []
    assert result.overspend_s > 0


def test_ci_cannot_silently_skip_postgres() -> None:
    from vidgen.quota.testing import PostgresUnavailable

    assert postgres_test_url({}) is None  # a laptop skips
    with pytest.raises(PostgresUnavailable, match="start_postgres"):
        postgres_test_url({"CI": "true"})  # CI fails instead
    assert postgres_test_url({"CI": "true", "VIDGEN_TEST_POSTGRES_URL": "postgresql+psycopg://x"})
