"""Per-user job history and output files that survive restarts.

Each user's files live under `output_dir/<slug>/`, where the slug is an HMAC of the user id with a secret
kept in the data directory: unguessable from outside, stable across restarts. Rows live in SQLite (or any
SQLAlchemy URL) and are only ever read filtered by user id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, delete, select, update

metadata = MetaData()
jobs_table = Table(
    "history_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("status", String(16), nullable=False),  # done | failed | blocked | cancelled | expired
    Column("mode", String(32), nullable=False),
    Column("model_id", String(128), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("seconds_charged", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=False, default=""),
    Column("video_path", Text, nullable=False, default=""),
    Column("gif_path", Text, nullable=False, default=""),
    Column("recipe_path", Text, nullable=False, default=""),
    Column("thumbnail_path", Text, nullable=False, default=""),
    Column("bytes", Integer, nullable=False, default=0),
    Column("request_json", Text, nullable=False, default="{}"),
)


@dataclass(frozen=True)
class HistoryEntry:
    job_id: str
    user_id: str
    created_at: float
    status: str
    mode: str
    model_id: str
    prompt: str
    seconds_charged: float
    message: str
    video_path: str
    gif_path: str
    recipe_path: str
    thumbnail_path: str
    bytes: int
    request_json: str

    @property
    def request(self) -> dict[str, Any]:
        return json.loads(self.request_json)

    @property
    def created(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.created_at, tz=dt.timezone.utc)


class History:
    def __init__(self, data_dir: Path, output_dir: Path, url: str = ""):
        self.output_dir = Path(output_dir)
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._secret = _load_or_create_secret(data_dir / "history.secret")
        self.engine = create_engine(url or f"sqlite:///{data_dir / 'history.db'}")
        metadata.create_all(self.engine)

    def user_dir(self, user_id: str) -> Path:
        slug = hmac.new(self._secret, user_id.encode(), hashlib.sha256).hexdigest()[:32]
        folder = self.output_dir / slug
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def new_job_dir(self, user_id: str, job_id: str) -> Path:
        folder = self.user_dir(user_id) / job_id
        folder.mkdir(parents=True, exist_ok=False)
        return folder

    def record(self, **row: Any) -> None:
        row.setdefault("created_at", dt.datetime.now(dt.timezone.utc).timestamp())
        with self.engine.begin() as conn:
            conn.execute(delete(jobs_table).where(jobs_table.c.job_id == row["job_id"]))
            conn.execute(jobs_table.insert().values(**row))

    def list(self, user_id: str, limit: int = 100) -> list[HistoryEntry]:
        query = (
            select(jobs_table)
            .where(jobs_table.c.user_id == user_id)
            .order_by(jobs_table.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [HistoryEntry(**row._mapping) for row in conn.execute(query)]

    def get(self, user_id: str, job_id: str) -> HistoryEntry | None:
        query = select(jobs_table).where(jobs_table.c.user_id == user_id, jobs_table.c.job_id == job_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return HistoryEntry(**row._mapping) if row else None

    def delete(self, user_id: str, job_id: str) -> bool:
        entry = self.get(user_id, job_id)
        if entry is None:
            return False
        job_dir = self.user_dir(user_id) / job_id
        if job_dir.is_dir():
            shutil.rmtree(job_dir)
        with self.engine.begin() as conn:
            conn.execute(delete(jobs_table).where(jobs_table.c.job_id == job_id, jobs_table.c.user_id == user_id))
        return True

    def owns_path(self, user_id: str, path: str | Path) -> bool:
        """True when `path` lies inside this user's output folder (used before serving a file)."""
        try:
            Path(path).resolve().relative_to(self.user_dir(user_id).resolve())
        except ValueError:
            return False
        return True

    def apply_retention(self, max_age_days: float, max_total_mb: float, now: float | None = None) -> int:
        """Delete old output files (oldest first past the size cap); rows stay and say 'expired'."""
        now = dt.datetime.now(dt.timezone.utc).timestamp() if now is None else now
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(jobs_table).where(jobs_table.c.status == "done").order_by(jobs_table.c.created_at.desc())
            ).all()
        expired, total = [], 0
        for row in rows:
            total += row.bytes
            if now - row.created_at > max_age_days * 86400 or total > max_total_mb * 2**20:
                expired.append(row)
        for row in expired:
            job_dir = Path(row.video_path).parent if row.video_path else None
            if job_dir and job_dir.is_dir() and job_dir.parent.parent == self.output_dir:
                shutil.rmtree(job_dir)
            with self.engine.begin() as conn:
                conn.execute(
                    update(jobs_table)
                    .where(jobs_table.c.job_id == row.job_id)
                    .values(status="expired", message="Expired: the files were removed by the retention policy.")
                )
        return len(expired)


def _load_or_create_secret(path: Path) -> bytes:
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()
