"""The authorization server's own small tables, in the same database as the resources (SQLite or PostgreSQL).

They are few and written rarely (a sign-in, a token, a key rotation), so each operation opens a short
connection of its own; nothing here is on the path of an ordinary FHIR request except the revocation list,
which callers cache.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DDL = (
    "CREATE TABLE IF NOT EXISTS auth_keys (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, private_pem TEXT NOT NULL, "
    "created BIGINT NOT NULL, retired BIGINT)",
    "CREATE TABLE IF NOT EXISTS auth_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS auth_clients (client_id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, "
    "jwks TEXT, jwks_uri TEXT, redirect_uris TEXT NOT NULL, created BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS auth_users (name TEXT PRIMARY KEY, password_hash TEXT, patient TEXT, "
    "practitioner TEXT, org TEXT, roles TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, "
    "failures INTEGER NOT NULL DEFAULT 0, locked_until BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS auth_seen_jti (jti TEXT PRIMARY KEY, exp BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS auth_revoked (jti TEXT PRIMARY KEY, exp BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS auth_codes (code_hash TEXT PRIMARY KEY, data TEXT NOT NULL, exp BIGINT NOT NULL, "
    "used INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS auth_refresh (token_hash TEXT PRIMARY KEY, family TEXT NOT NULL, data TEXT NOT NULL, "
    "exp BIGINT NOT NULL, used INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS auth_refresh_family ON auth_refresh (family)",
    "CREATE TABLE IF NOT EXISTS auth_proofing (name TEXT PRIMARY KEY, level TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS auth_totp (name TEXT PRIMARY KEY, secret TEXT NOT NULL, recovery TEXT NOT NULL, "
    "last_step BIGINT NOT NULL)",
)


class AuthDb:
    """Short connections to the database a URL names, with `?` placeholders on both engines."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if not self.postgres and not url.startswith("sqlite:///"):
            raise ValueError(f"Unsupported database URL {url!r}: use sqlite:///path or postgresql://...")
        self._migrated = False
        self._reader: _Conn | None = None

    @contextmanager
    def connect(self) -> Iterator[Any]:
        if self.postgres:
            import psycopg

            conn: Any = psycopg.connect(self.url, autocommit=False)
        else:
            path = self.url[len("sqlite:///"):] or ":memory:"
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=10)
        try:
            if not self._migrated:
                if self.postgres:  # one migrator at a time across processes
                    conn.execute("SELECT pg_advisory_xact_lock(727275)")
                for stmt in DDL:
                    conn.execute(stmt)
                self._migrated = True
            yield _Conn(conn, self.postgres)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def all(self, sql: str, args: Sequence = ()) -> list[tuple]:
        with self.connect() as c:
            return c.all(sql, args)

    def read_often(self, sql: str, args: Sequence = ()) -> list[tuple]:
        """A read repeated on a hot path (the revocation list): one kept connection in autocommit mode, so no
        connection set-up per call; opened again after any error."""
        if self._reader is None:
            with self.connect():  # the tables exist before the first read
                pass
            if self.postgres:
                import psycopg

                self._reader = _Conn(psycopg.connect(self.url, autocommit=True), True)
            else:
                path = self.url[len("sqlite:///"):] or ":memory:"
                self._reader = _Conn(sqlite3.connect(path, timeout=10, isolation_level=None,
                                                     check_same_thread=False), False)
        try:
            return self._reader.all(sql, args)
        except Exception:
            self._reader.conn.close()
            self._reader = None
            raise

    def one(self, sql: str, args: Sequence = ()) -> tuple | None:
        rows = self.all(sql, args)
        return rows[0] if rows else None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.conn.close()
            self._reader = None

    def run(self, sql: str, args: Sequence = ()) -> int:
        with self.connect() as c:
            return c.run(sql, args)


class _Conn:
    def __init__(self, conn: Any, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def all(self, sql: str, args: Sequence = ()) -> list[tuple]:
        return list(self.conn.execute(self._sql(sql), tuple(args)).fetchall())

    def one(self, sql: str, args: Sequence = ()) -> tuple | None:
        rows = self.all(sql, args)
        return rows[0] if rows else None

    def run(self, sql: str, args: Sequence = ()) -> int:
        cur = self.conn.execute(self._sql(sql), tuple(args))
        return cur.rowcount
