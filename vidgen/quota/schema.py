"""Ledger tables. Seconds are stored as integer milliseconds so sums never drift; times as UTC epoch
seconds (double precision) and quota days as YYYYMMDD integers, so the same SQL and the same plain
parameters work on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

SCHEMA_VERSION = 2  # bump when a table changes shape; old databases are refused, not misread

metadata = MetaData()

meta = Table(
    "quota_meta",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("value", String(200), nullable=False),
)

# Who we have seen, and the plan an admin pinned (plan_override wins over the identity's plan).
users = Table(
    "quota_users",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("source", String(20), nullable=False, default=""),
    Column("plan", String(50), nullable=False),
    Column("plan_override", String(50), nullable=True),
    Column("created_ts", Float, nullable=False),
)

# One row per user and quota day: the counters every reserve checks and updates atomically.
days = Table(
    "quota_days",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("day", Integer, primary_key=True),  # YYYYMMDD in the ledger's zone
    Column("used_ms", BigInteger, nullable=False, default=0),
    Column("reserved_ms", BigInteger, nullable=False, default=0),
    Column("bonus_ms", BigInteger, nullable=False, default=0),
    Column("previews", Integer, nullable=False, default=0),
)

# One row per job: the seconds it holds until settled, refunded or expired.
reservations = Table(
    "quota_reservations",
    metadata,
    Column("job_id", String(200), primary_key=True),
    Column("user_id", String(200), nullable=False),
    Column("day", Integer, nullable=False),
    Column("reserved_ms", BigInteger, nullable=False),
    Column("charged_ms", BigInteger, nullable=False, default=0),
    Column("state", String(20), nullable=False),  # reserved | settled | refunded | expired
    Column("outcome", String(40), nullable=True),
    Column("created_ts", Float, nullable=False),
    Column("expires_ts", Float, nullable=False),
    Column("closed_ts", Float, nullable=True),
    # The lazy expiry sweep looks up a user's open reservations by expiry. Partial: closed reservations
    # leave the index, so it stays small and a settle touches fewer pages.
    Index("ix_quota_reservations_open", "user_id", "expires_ts",
          sqlite_where=text("state = 'reserved'"), postgresql_where=text("state = 'reserved'")),
)

# Append-only trail: user, job, seconds, outcome, time.
audit = Table(
    "quota_audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("job_id", String(200), nullable=True),
    Column("event", String(20), nullable=False),  # reserve | settle | refund | expire | top_up | reset | plan
    Column("seconds_ms", BigInteger, nullable=False, default=0),
    Column("outcome", String(40), nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_quota_audit_user_ts", "user_id", "ts"),
)

# Recent free previews, for the sliding per-minute window (the per-day count lives in quota_days).
previews = Table(
    "quota_previews",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("user_id", String(200), nullable=False),
    Column("ts", Float, nullable=False),
    Index("ix_quota_previews_user_ts", "user_id", "ts"),
)
