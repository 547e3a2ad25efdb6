"""Value objects and errors shared by the ledger, the CLI and the UI layer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vidgen.quota.clock import format_seconds, format_wait


@dataclass(frozen=True)
class Balance:
    """A user's quota for the current day. Seconds are generation-seconds."""

    plan: str
    used_s: float
    reserved_s: float  # held by jobs still running
    limit_s: float | None  # None = unlimited; includes today's top-ups
    resets_at: dt.datetime  # aware, in the ledger's zone
    previews_today: int = 0

    @property
    def remaining_s(self) -> float | None:
        if self.limit_s is None:
            return None
        return max(0.0, self.limit_s - self.used_s - self.reserved_s)

    @property
    def unlimited(self) -> bool:
        return self.limit_s is None

    def summary(self) -> str:
        """One line for a quota meter, e.g. "100 s left today (4 s used of 104 s, free plan)"."""
        if self.limit_s is None:
            return f"Unlimited ({format_seconds(self.used_s)} used today, {self.plan} plan)"
        held = f", {format_seconds(self.reserved_s)} held by running jobs" if self.reserved_s else ""
        return (
            f"{format_seconds(self.remaining_s or 0.0)} left today "
            f"({format_seconds(self.used_s)} used of {format_seconds(self.limit_s)}{held}, {self.plan} plan)"
        )

    def cost_line(self, cost_s: float) -> str:
        """Shown before the user clicks: "This clip uses 4 s; 100 s left today"."""
        if self.limit_s is None:
            return f"This clip uses {format_seconds(cost_s)}; unlimited plan"
        return f"This clip uses {format_seconds(cost_s)}; {format_seconds(self.remaining_s or 0.0)} left today"

    def fits(self, cost_s: float) -> bool:
        return self.remaining_s is None or cost_s <= self.remaining_s + 1e-9


@dataclass(frozen=True)
class Reservation:
    job_id: str
    user_id: str
    seconds: float
    day: dt.date
    expires_at: dt.datetime  # aware UTC


@dataclass(frozen=True)
class Settlement:
    """What a settle/refund did. `applied` is False when the job was already closed (idempotent repeat)."""

    job_id: str
    applied: bool
    state: str  # reserved | settled | refunded | expired | unknown
    charged_s: float


@dataclass(frozen=True)
class UsageRow:
    user_id: str
    display_name: str
    source: str
    plan: str
    used_s: float
    reserved_s: float
    limit_s: float | None
    previews: int

    @property
    def remaining_s(self) -> float | None:
        return None if self.limit_s is None else max(0.0, self.limit_s - self.used_s - self.reserved_s)


class QuotaError(Exception):
    """Base for refusals whose str() is a message fit to show the user."""

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QuotaExceeded(QuotaError):
    def __init__(self, needed_s: float, balance: Balance, retry_after_s: float) -> None:
        self.needed_s = needed_s
        self.balance = balance
        super().__init__(_exceeded_message(needed_s, balance, retry_after_s), retry_after_s)


class PreviewRateLimited(QuotaError):
    def __init__(self, window: str, limit: int, retry_after_s: float) -> None:
        self.window = window  # "minute" | "day"
        self.limit = limit
        per = "a minute" if window == "minute" else "a day"
        message = (
            f"Preview limit reached: {limit} free previews {per} on your plan. "
            f"Try again in {format_wait(retry_after_s)}."
        )
        super().__init__(message, retry_after_s)


class DuplicateJob(ValueError):
    """A job id was reserved twice."""


def _exceeded_message(needed_s: float, balance: Balance, retry_after_s: float) -> str:
    limit = balance.limit_s or 0.0
    wait = f"Try again in {format_wait(retry_after_s)}"
    if needed_s > limit:
        return (
            f"This clip needs {format_seconds(needed_s)}, more than the {balance.plan} plan's daily "
            f"{format_seconds(limit)}. Make it shorter or smaller. Your quota resets in "
            f"{format_wait(retry_after_s)}."
        )
    held = ""
    if balance.reserved_s:
        held = f" ({format_seconds(balance.reserved_s)} held by jobs still running)"
    return (
        f"Daily quota reached: this clip needs {format_seconds(needed_s)} but only "
        f"{format_seconds(balance.remaining_s or 0.0)} of your {format_seconds(limit)} are left today{held}. "
        f"{wait} (resets at midnight {balance.resets_at.tzname()})."
    )
