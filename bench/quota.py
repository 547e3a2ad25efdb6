"""Quota ledger benchmark: reserve+settle pairs per second on SQLite and PostgreSQL, and the overspend
found by the concurrency race (50 threads + 4 processes, one user, 104-s budget).

    eval "$(scripts/start_postgres.sh)"     # or let this script start it
    .venv/bin/python bench/quota.py         # writes bench/results/quota.json

One client, one thread, sequential pairs: each reserve and each settle is its own short transaction
(SQLite WAL file on local disk; PostgreSQL on 127.0.0.1). The figure is the median of several rounds,
interleaved between the two databases so both see the same background load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vidgen.quota import Ledger, User  # noqa: E402
from vidgen.quota.race import run_race  # noqa: E402
from vidgen.quota.testing import POSTGRES_URL_ENV, postgres_schema  # noqa: E402

RESULTS = REPO / "bench" / "results" / "quota.json"


class PairTimer:
    """Times rounds of sequential reserve+settle pairs for one user of one ledger."""

    def __init__(self, url: str) -> None:
        self.ledger = Ledger(url=url)
        self.user = User(f"roster:bench-{uuid.uuid4().hex[:8]}", "free", "bench", "roster")
        self.ledger.balance(self.user)
        self.ledger.top_up(self.user.user_id, 10**9)  # a limited plan: the budget check is on the measured path
        self.rates: list[float] = []
        for _ in range(200):  # warm the pool, the prepared statements and the database pages
            _pair(self.ledger, self.user)

    def round(self, seconds: float) -> None:
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(50):
                _pair(self.ledger, self.user)
            count += 50
        self.rates.append(count / elapsed)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def _pair(ledger: Ledger, user: User) -> None:
    job_id = uuid.uuid4().hex
    ledger.reserve(user, job_id, 4.0)
    ledger.settle(job_id, 4.0)


def _whole_if_integral(seconds: float) -> float | int:
    return int(seconds) if float(seconds).is_integer() else round(seconds, 3)


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    out = subprocess.run([str(REPO / "scripts" / "start_postgres.sh")], check=True, capture_output=True,
                         text=True).stdout
    return out.strip().split("=", 1)[1].strip("'\"")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch, postgres_schema(postgres_url()) as pg_url:
        sqlite, postgres = PairTimer(f"sqlite:///{scratch}/bench.db"), PairTimer(pg_url)
        for _ in range(args.rounds):  # interleaved, so both see the same background load
            sqlite.round(args.seconds)
            postgres.round(args.seconds)
        sqlite.ledger.close()
        postgres.ledger.close()
        sqlite_race = run_race(f"sqlite:///{scratch}/race.db")
        pg_race = run_race(pg_url)
    sqlite_rate, sqlite_rounds = sqlite.median, sqlite.rates
    pg_rate, pg_rounds = postgres.median, postgres.rates

    for name, race in (("sqlite", sqlite_race), ("postgres", pg_race)):
        if race.errors:
            raise SystemExit(f"{name} race had errors: {race.errors[:3]}")
        print(f"{name} race: granted {race.granted_s} s of {race.budget_s} s in {race.granted} reservations, "
              f"{race.refused} refusals, overspend {race.overspend_s} s", file=sys.stderr)
    print(f"load average: {os.getloadavg()} on {os.cpu_count()} CPUs", file=sys.stderr)
    print(f"sqlite rounds (pairs/s): {[round(r) for r in sqlite_rounds]}", file=sys.stderr)
    print(f"postgres rounds (pairs/s): {[round(r) for r in pg_rounds]}", file=sys.stderr)

    results = {
        "sqlite_pairs_per_s": round(sqlite_rate, 1),
        "postgres_pairs_per_s": round(pg_rate, 1),
        "overspend_seconds": _whole_if_integral(max(sqlite_race.overspend_s, pg_race.overspend_s)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
