"""SQLite engine: the embedded default.

WAL mode, one connection per process used inline: SQLite answers a primary-key read in microseconds, faster
than handing the call to a thread would be, and one connection serialises writes as SQLite needs anyway
(after Datasette's single-writer design). `synchronous=NORMAL` in WAL mode keeps every committed
transaction across a process crash (kill -9); `FULL` is used when `durable=True` to survive power loss.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from caregate.clock import Clock, SystemClock
from caregate.errors import FhirError
from caregate.search.query import SearchQuery
from caregate.storage.base import Change, HistoryQuery, Notes, Page, Stored, Write
from caregate.storage.changefeed import SqliteFeed
from caregate.storage.sql.dialect import SQLITE
from caregate.storage.sql.schema import statistics_sql
from caregate.storage.sqlcore import SqlCore


def path_from_url(url: str) -> str:
    """`sqlite:///relative.db`, `sqlite:////abs/path.db` or `sqlite:///:memory:`."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite URL: {url!r}")
    return url[len("sqlite:///"):] or ":memory:"


def use_wal(conn: sqlite3.Connection, wait_s: float = 10.0) -> None:
    """Put the database in WAL mode, waiting for a process doing the same at the same moment.

    Switching a fresh database to WAL needs an exclusive lock, and SQLite answers "database is locked" to the
    second of two processes switching at once without calling the busy handler (it would deadlock). Several
    server workers opening a new database together do exactly that, so the switch is retried until `wait_s`.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class SqliteStore:
    def __init__(self, path: str, clock: Clock | None = None, *, durable: bool = False) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.core = SqlCore(SQLITE, clock or SystemClock())
        self._feed_waiters: set[Callable[[], None]] = set()
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            use_wal(self.conn)
        self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self.conn.execute("PRAGMA wal_autocheckpoint=8000")  # fewer, larger checkpoints under bulk writes
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.core.migrate(_Committer(self.conn))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    @classmethod
    def from_url(cls, url: str, clock: Clock | None = None) -> SqliteStore:
        return cls(path_from_url(url), clock)

    # The async surface runs inline: see the module docstring.
    async def read(self, type_: str, id_: str) -> Stored | None:
        return self.core.read(self.conn, type_, id_)

    async def vread(self, type_: str, id_: str, version: int) -> Stored | None:
        return self.core.vread(self.conn, type_, id_, version)

    async def transact(self, writes: Sequence[Write], notes: Notes | None = None) -> list[Stored]:
        return self.transact_sync(writes, notes)

    def transact_sync(self, writes: Sequence[Write], notes: Notes | None = None) -> list[Stored]:
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise FhirError("busy", "The database is busy; try again shortly.") from exc
        try:
            result = self.core.transact(conn, writes, notes)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._wake_feeds()
        return result

    def refresh_statistics(self) -> None:
        """Planner statistics for the tables writes fill (`sqlite_stat1`), e.g. after a bulk load."""
        for statement in statistics_sql(SQLITE):
            self.conn.execute(statement)

    def _wake_feeds(self) -> None:
        for wake in list(self._feed_waiters):
            wake()

    def change_feed(self, after_t: int = 0, poll_seconds: float = 0.05) -> SqliteFeed:
        """A reader of the change log from `after_t`, woken by this process's commits (see `changefeed`)."""
        return SqliteFeed(lambda a, n: self.core.feed_rows(self.conn, a, n), lambda: self.core.newest_t(self.conn),
                          self._feed_waiters, after_t, poll_seconds)

    async def search(self, query: SearchQuery, page_size: int = 20, types: list[str] | None = None) -> Page:
        return self.core.search(self.conn, query, page_size, types)

    async def history(self, query: HistoryQuery) -> Page:
        return self.core.history(self.conn, query)

    async def changes(self, after_t: int, limit: int = 1000) -> list[Change]:
        return self.core.changes(self.conn, after_t, limit)

    async def ping(self) -> bool:
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    async def close(self) -> None:
        self.conn.close()


class _Committer:
    """Lets `SqlCore.migrate` call `commit()` on an autocommit-mode sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def cursor(self) -> sqlite3.Cursor:
        return self._conn.cursor()

    def commit(self) -> None:
        self._conn.execute("COMMIT")
