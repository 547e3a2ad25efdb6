"""The concurrency race used by the tests and the benchmark: many threads in this process plus several
worker processes reserve for ONE user at the same moment until the budget is full.

    python -m vidgen.quota.race URL            # runs a race and prints the result as JSON

The overspend is what was granted beyond the plan's budget, measured both from what the workers were
told and from what the database holds; a correct ledger reports 0 and fills the budget exactly.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import func, select

from vidgen.quota.identity import User
from vidgen.quota.ledger import Ledger
from vidgen.quota.schema import days, reservations
from vidgen.quota.types import QuotaExceeded

SIZES_S = (3, 1, 5, 2, 8, 1, 4)  # whole seconds, so a full budget is reached exactly


@dataclass
class WorkerTally:
    granted_ms: int = 0
    granted: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: WorkerTally) -> None:
        self.granted_ms += other.granted_ms
        self.granted += other.granted
        self.refused += other.refused
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class RaceResult:
    budget_s: float
    granted_s: float  # what the workers were told they got
    ledger_reserved_s: float  # what the day row holds
    reservations_s: float  # sum over the reservation rows
    granted: int
    refused: int
    threads: int
    processes: int
    errors: list[str]

    @property
    def overspend_s(self) -> float:
        return max(0.0, max(self.granted_s, self.ledger_reserved_s, self.reservations_s) - self.budget_s)


def race_user(user_id: str) -> User:
    return User(user_id, "free", user_id, "roster")


def _reserve_until_full(ledger: Ledger, user: User, offset: int, tally: WorkerTally) -> None:
    """Reserve varied sizes; after a refusal try 1 s; stop once even 1 s is refused (budget full)."""
    index = offset
    size = SIZES_S[index % len(SIZES_S)]
    while True:
        try:
            ledger.reserve(user, f"race-{uuid.uuid4().hex}", size)
        except QuotaExceeded:
            tally.refused += 1
            if size == 1:
                return
            size = 1
            continue
        except Exception as error:  # a lock timeout or deadlock would be a finding: report, don't hide
            tally.errors.append(f"{type(error).__name__}: {error}")
            return
        tally.granted += 1
        tally.granted_ms += size * 1000
        index += 1
        size = SIZES_S[index % len(SIZES_S)]


def _run_threads(ledger: Ledger, user: User, count: int, offset: int, go: threading.Event) -> WorkerTally:
    tallies = [WorkerTally() for _ in range(count)]

    def work(i: int) -> None:
        go.wait()
        _reserve_until_full(ledger, user, offset + i, tallies[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return _join(threads, tallies)


def _join(threads: list[threading.Thread], tallies: list[WorkerTally]) -> WorkerTally:
    for thread in threads:
        thread.join()
    total = WorkerTally()
    for tally in tallies:
        total.add(tally)
    return total


def _child_main(url: str, user_id: str, threads: int, offset: int) -> None:
    """A worker process: build a ledger, say "ready", wait for "go" on stdin, race, print the tally."""
    ledger = Ledger(url=url)
    go = threading.Event()
    result: list[WorkerTally] = []
    runner = threading.Thread(target=lambda: result.append(_run_threads(ledger, race_user(user_id), threads,
                                                                         offset, go)))
    runner.start()
    print("ready", flush=True)
    sys.stdin.readline()
    go.set()
    runner.join()
    ledger.close()
    print(json.dumps(asdict(result[0])), flush=True)


def _spawn(url: str, user_id: str, threads: int, offset: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "vidgen.quota.race", url, "--child", "--user", user_id,
               "--threads", str(threads), "--offset", str(offset)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def run_race(url: str, threads: int = 50, processes: int = 4, threads_per_process: int = 4,
             user_id: str | None = None, ledger_class: type[Ledger] = Ledger) -> RaceResult:
    """Races `threads` threads here and `processes` processes for one free-plan user (104 s/day).
    `ledger_class` replaces the ledger in this process only (the tests' negative control)."""
    user_id = user_id or f"roster:race-{uuid.uuid4().hex[:8]}"
    ledger = ledger_class(url=url)
    budget_s = ledger.plans.get("free").daily_seconds or 0.0
    ledger.balance(race_user(user_id))  # creates the user row before the race
    children = [_spawn(url, user_id, threads_per_process, 1000 * (n + 1)) for n in range(processes)]
    try:
        for child in children:
            if child.stdout is None or child.stdout.readline().strip() != "ready":
                raise RuntimeError("race worker process failed to start")
        go = threading.Event()
        local: list[WorkerTally] = []
        runner = threading.Thread(target=lambda: local.append(_run_threads(ledger, race_user(user_id), threads,
                                                                            0, go)))
        runner.start()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        go.set()
        runner.join()
        total = local[0]
        for child in children:
            out, _ = child.communicate(timeout=600)
            if child.returncode != 0:
                raise RuntimeError(f"race worker process exited with {child.returncode}")
            total.add(WorkerTally(**json.loads(out.strip().splitlines()[-1])))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    held_ms, rows_ms = _held_in_database(ledger, user_id)
    ledger.close()
    return RaceResult(budget_s, total.granted_ms / 1000.0, held_ms / 1000.0, rows_ms / 1000.0,
                      total.granted, total.refused, threads, processes, total.errors)


def _held_in_database(ledger: Ledger, user_id: str) -> tuple[int, int]:
    with ledger.engine.connect() as conn:
        held = conn.execute(select(func.coalesce(func.sum(days.c.reserved_ms + days.c.used_ms), 0))
                            .where(days.c.user_id == user_id)).scalar_one()
        rows = conn.execute(select(func.coalesce(func.sum(reservations.c.reserved_ms), 0))
                            .where(reservations.c.user_id == user_id)).scalar_one()
    return int(held), int(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vidgen.quota.race", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--user", default=None)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.url, args.user, args.threads, args.offset)
        return 0
    result = run_race(args.url, threads=args.threads, processes=args.processes, user_id=args.user)
    print(json.dumps({**asdict(result), "overspend_s": result.overspend_s}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
