"""Time helpers: injectable clocks, quota days in a configured zone, and "5:12:03" formatting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

Clock = Callable[[], dt.datetime]  # returns an aware datetime


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class ManualClock:
    """A clock that only moves when told to; for tests and simulations."""

    now: dt.datetime = field(default_factory=system_clock)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now = self.now + dt.timedelta(seconds=seconds)
        return self.now

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.now = when


@dataclass(frozen=True)
class QuotaCalendar:
    """Maps instants to quota days; a day starts at local midnight in `zone`."""

    zone: ZoneInfo

    @classmethod
    def named(cls, name: str) -> QuotaCalendar:
        return cls(ZoneInfo(name))

    def day_of(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self.zone).date()

    def next_reset(self, instant: dt.datetime) -> dt.datetime:
        """The first local midnight after `instant` (an aware datetime in the zone)."""
        tomorrow = self.day_of(instant) + dt.timedelta(days=1)
        midnight = dt.datetime.combine(tomorrow, dt.time(0), tzinfo=self.zone)
        # A zone may skip midnight (DST at 00:00): normalise through UTC to a real instant.
        return midnight.astimezone(dt.timezone.utc).astimezone(self.zone)

    def seconds_until_reset(self, instant: dt.datetime) -> float:
        # Subtract in UTC: aware datetimes sharing a tzinfo subtract by wall clock, ignoring DST.
        reset_utc = self.next_reset(instant).astimezone(dt.timezone.utc)
        return max(0.0, (reset_utc - instant.astimezone(dt.timezone.utc)).total_seconds())


def day_key(day: dt.date) -> int:
    """A quota day as the integer YYYYMMDD (how the ledger stores it)."""
    return day.year * 10000 + day.month * 100 + day.day


def day_from_key(key: int) -> dt.date:
    return dt.date(key // 10000, key // 100 % 100, key % 100)


def format_wait(seconds: float) -> str:
    """Formats a wait as H:MM:SS, e.g. 18723 -> "5:12:03" (rounded up so it never says 0:00:00 early)."""
    whole = max(0, int(-(-seconds // 1)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def format_seconds(seconds: float) -> str:
    """Generation-seconds for people: "4 s", "2.5 s"."""
    rounded = round(seconds, 1)
    return f"{rounded:g} s"
