"""Which process delivers rest-hook notifications: exactly one holds the dispatcher lease at a time.

Every worker process follows the change log (for `$status`, `$events` and its own websocket clients), but
only the lease holder POSTs to rest-hook endpoints, so each event goes out once per subscription however
many workers serve the API. The lease dies with its holder, and another worker takes it within a second.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a dedicated connection; the server
  releases it when the holder's connection ends, including on kill -9.
- SQLite: an exclusive `flock` on a file beside the database; the kernel releases it when the process dies.
- An in-memory SQLite database lives in one process, which therefore always holds the lease.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

_PG_KEY = 0x63617265_67617465 & 0x7FFFFFFFFFFFFFFF  # "caregate" as a bigint


class Lease(Protocol):
    async def acquire(self) -> bool:
        """True when this process holds (or just took) the lease; checks an held lease is still alive."""
        ...

    async def release(self) -> None: ...


class LocalLease:
    """Always held: one process owns the whole store."""

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class FileLease:
    """`flock(LOCK_EX | LOCK_NB)` on `<database>.subscriptions.lock`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        import fcntl

        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


class PostgresLease:
    """A session advisory lock held on a connection of its own (not from the store's pool)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None
        self._lock = threading.Lock()
        self._released = False  # released while an acquire was on its way: it must not connect

    def _acquire(self) -> bool:
        with self._lock:
            return False if self._released else self._take()

    def _take(self) -> bool:
        import psycopg

        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                self._close()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        except psycopg.Error:
            return False
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_PG_KEY,)).fetchone()
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    async def acquire(self) -> bool:
        self._released = False
        return await anyio.to_thread.run_sync(self._acquire)

    def _release(self) -> None:
        self._released = True
        with self._lock:
            self._close()

    async def release(self) -> None:
        await anyio.to_thread.run_sync(self._release)


def lease_for(database_url: str) -> Lease:
    """The lease that fits the database the server runs on."""
    if database_url.startswith(("postgresql://", "postgres://")):
        return PostgresLease(database_url)
    if database_url.startswith("sqlite:///"):
        path = database_url[len("sqlite:///"):]
        if path and path != ":memory:":
            return FileLease(str(Path(path).with_name(Path(path).name + ".subscriptions.lock")))
    return LocalLease()
