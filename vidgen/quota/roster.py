"""Classroom roster: a CSV file of `username,password_hash,plan` used as Gradio's `auth` callable.

Password hashes are scrypt (hashlib, no extra dependency) in the form
`scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`. Add users with `python -m vidgen.quota roster-add ...`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FIELDS = ("username", "password_hash", "plan")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_DUMMY_HASH_SALT = "00" * 16


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**26, dklen=32)


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("empty password")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, digest_hex = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = _scrypt(password, bytes.fromhex(salt_hex), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest, bytes.fromhex(digest_hex))


@dataclass(frozen=True)
class RosterEntry:
    username: str
    password_hash: str
    plan: str


@dataclass(frozen=True)
class Roster:
    entries: Mapping[str, RosterEntry]  # keyed by lower-case username

    @classmethod
    def load(cls, path: str | Path) -> Roster:
        return cls.parse(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> Roster:
        rows = csv.DictReader(line for line in io.StringIO(text) if line.strip() and not line.startswith("#"))
        if rows.fieldnames is None:
            return cls(entries={})
        missing = [name for name in FIELDS if name not in rows.fieldnames]
        if missing:
            raise ValueError(f"roster lacks columns: {', '.join(missing)} (header must be {','.join(FIELDS)})")
        entries: dict[str, RosterEntry] = {}
        for row in rows:
            username = row["username"].strip()
            if not username:
                continue
            plan = (row.get("plan") or "free").strip() or "free"
            entries[username.lower()] = RosterEntry(username, row["password_hash"].strip(), plan)
        return cls(entries=entries)

    def get(self, username: str) -> RosterEntry | None:
        return self.entries.get(username.strip().lower())

    def verify(self, username: str, password: str) -> bool:
        entry = self.get(username)
        if entry is None:
            # Spend the same time as a real check so response times do not reveal who is enrolled.
            check_password(password, f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_DUMMY_HASH_SALT}$00")
            return False
        return check_password(password, entry.password_hash)

    def __call__(self, username: str, password: str) -> bool:
        """Gradio's `auth=` accepts a callable (username, password) -> bool."""
        return self.verify(username, password)

    def with_user(self, username: str, password: str, plan: str = "free") -> Roster:
        entries = dict(self.entries)
        entries[username.strip().lower()] = RosterEntry(username.strip(), hash_password(password), plan)
        return Roster(entries=entries)

    def dumps(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for entry in sorted(self.entries.values(), key=lambda e: e.username.lower()):
            writer.writerow([entry.username, entry.password_hash, entry.plan])
        return out.getvalue()

    def save(self, path: str | Path) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(target.suffix + ".tmp")
        temporary.write_text(self.dumps(), encoding="utf-8")
        temporary.replace(target)


def add_user(path: str | Path, username: str, password: str, plan: str = "free") -> Roster:
    """Adds or replaces a user in the roster file (created if missing)."""
    target = Path(path)
    roster = Roster.load(target) if target.exists() else Roster(entries={})
    updated = roster.with_user(username, password, plan)
    updated.save(target)
    return updated
