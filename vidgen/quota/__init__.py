"""Per-user daily generation-second quotas (Gradio-free core).

    plans = PlanBook.load()
    ledger = Ledger(url="sqlite:///data/quota.db", plans=plans)
    user = IdentityResolver(roster=..., salt=...).resolve(ClientInfo(...))
    ledger.reserve(user, job_id, seconds)  # before work; raises QuotaExceeded
    ledger.settle(job_id, actual_seconds)  # on success, or ledger.refund(job_id, "failed")
"""

from vidgen.quota.clock import ManualClock, QuotaCalendar, format_seconds, format_wait, system_clock
from vidgen.quota.identity import ClientInfo, IdentityResolver, User, load_or_create_salt
from vidgen.quota.ledger import DEFAULT_URL, Ledger
from vidgen.quota.plans import Plan, PlanBook
from vidgen.quota.roster import Roster, RosterEntry, add_user, check_password, hash_password
from vidgen.quota.types import (
    Balance,
    DuplicateJob,
    PreviewRateLimited,
    QuotaError,
    QuotaExceeded,
    Reservation,
    Settlement,
    UsageRow,
)

__all__ = [
    "DEFAULT_URL",
    "Balance",
    "ClientInfo",
    "DuplicateJob",
    "IdentityResolver",
    "Ledger",
    "ManualClock",
    "Plan",
    "PlanBook",
    "PreviewRateLimited",
    "QuotaCalendar",
    "QuotaError",
    "QuotaExceeded",
    "Reservation",
    "Roster",
    "RosterEntry",
    "Settlement",
    "UsageRow",
    "User",
    "add_user",
    "check_password",
    "format_seconds",
    "format_wait",
    "hash_password",
    "load_or_create_salt",
    "system_clock",
]
