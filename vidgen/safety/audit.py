"""Append-only JSON-lines audit log of safety decisions (one record per checked request)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


@dataclass
class SafetyAuditLog:
    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def write(self, record: dict, **context) -> dict:
        """Append `record` (plus `context`, e.g. user_id, request_id, and a UTC timestamp) as one line."""
        line = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **context, **record}
        data = (json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            # O_APPEND makes each single write land at the end, even with several processes writing.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        return line

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
