"""Helpers for tests and the benchmark: the PostgreSQL test URL and throwaway schemas."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import create_engine, text

POSTGRES_URL_ENV = "VIDGEN_TEST_POSTGRES_URL"


class PostgresUnavailable(RuntimeError):
    pass


def postgres_test_url(environ: dict[str, str] | None = None) -> str | None:
    """The URL from VIDGEN_TEST_POSTGRES_URL; None when unset (callers skip), except under CI=true,
    where a missing server is an error so CI cannot silently skip the PostgreSQL tests."""
    env = os.environ if environ is None else environ
    url = env.get(POSTGRES_URL_ENV, "").strip()
    if url:
        return url
    if env.get("CI", "").lower() == "true":
        raise PostgresUnavailable(
            f"CI=true but {POSTGRES_URL_ENV} is unset: run `eval \"$(scripts/start_postgres.sh)\"` first"
        )
    return None


def with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema for one test; yields a URL whose connections use it, and drops it afterwards."""
    schema = f"vq_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield with_search_path(url, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
