"""PostgreSQL engine: the production store (psycopg 3 with a connection pool, resources as JSONB).

The shared SQL runs in worker threads on pooled connections so the event loop never blocks on the
network. Each write is one transaction at READ COMMITTED with `SELECT ... FOR UPDATE` on the current
version row, which is what makes concurrent updates of one resource serialise instead of losing one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import anyio.to_thread
import psycopg
from psycopg_pool import ConnectionPool

from caregate.clock import Clock, SystemClock
from caregate.errors import FhirError
from caregate.search.query import SearchQuery
from caregate.storage.base import Change, HistoryQuery, Notes, Page, Stored, Write
from caregate.storage.changefeed import PG_NEXT_XID_SQL, OwnConnection, PostgresFeed
from caregate.storage.sql.dialect import POSTGRES
from caregate.storage.sql.schema import statistics_sql
from caregate.storage.sqlcore import SqlCore

T = TypeVar("T")
_RETRIES = 5


class PostgresStore:
    def __init__(self, url: str, clock: Clock | None = None, *, min_size: int = 1, max_size: int = 8) -> None:
        self.core = SqlCore(POSTGRES, clock or SystemClock())
        # JIT compilation pays off for long analytical queries, not for searches answered from indexes in
        # milliseconds: on a large table the planner's cost estimate switches it on and it alone costs hundreds
        # of milliseconds per query, so it is off for caregate's sessions.
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True,
                                   kwargs={"autocommit": False, "options": "-c jit=off"})
        with self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(727274)")  # one migrator at a time
            self.core.migrate(conn)

    @classmethod
    def from_url(cls, url: str, clock: Clock | None = None) -> PostgresStore:
        return cls(url, clock)

    def _run(self, fn: Callable[[psycopg.Connection], T]) -> T:
        with self.pool.connection() as conn:
            return fn(conn)

    async def _call(self, fn: Callable[[psycopg.Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self._run, fn)

    async def read(self, type_: str, id_: str) -> Stored | None:
        return await self._call(lambda c: self.core.read(c, type_, id_))

    async def vread(self, type_: str, id_: str, version: int) -> Stored | None:
        return await self._call(lambda c: self.core.vread(c, type_, id_, version))

    def transact_sync(self, writes: Sequence[Write], notes: Notes | None = None) -> list[Stored]:
        for attempt in range(_RETRIES):
            try:
                with self.pool.connection() as conn, conn.transaction():
                    return self.core.transact(conn, writes, notes)
            except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected,
                    psycopg.errors.SerializationFailure) as exc:
                # Two writers created the same new id at once: the loser retries and sees the winner's row.
                if attempt == _RETRIES - 1:
                    raise FhirError("conflict", "A concurrent write to the same resource won; try again.") from exc
        raise AssertionError("unreachable")

    def refresh_statistics(self) -> None:
        """Planner statistics (`pg_stats`) and visibility maps for the tables writes fill, e.g. after a bulk load."""
        with self.pool.connection() as conn:
            conn.autocommit = True  # VACUUM runs outside a transaction
            try:
                for statement in statistics_sql(POSTGRES):
                    conn.execute(statement)
            finally:
                conn.autocommit = False

    async def transact(self, writes: Sequence[Write], notes: Notes | None = None) -> list[Stored]:
        return await anyio.to_thread.run_sync(self.transact_sync, writes, notes)

    async def search(self, query: SearchQuery, page_size: int = 20, types: list[str] | None = None) -> Page:
        return await self._call(lambda c: self.core.search(c, query, page_size, types))

    async def history(self, query: HistoryQuery) -> Page:
        return await self._call(lambda c: self.core.history(c, query))

    async def changes(self, after_t: int, limit: int = 1000) -> list[Change]:
        return await self._call(lambda c: self.core.changes(c, after_t, limit))

    def change_feed(self, after_t: int = 0, poll_seconds: float = 0.25) -> PostgresFeed:
        """A reader of the change log from `after_t`, in commit order, woken by LISTEN (see `changefeed`)."""
        own = OwnConnection(self.pool.conninfo)
        return PostgresFeed(lambda a, n: own.call(lambda c: self.core.pg_feed_rows(c, a, n)),
                            lambda: own.call(self.core.pg_newest_t),
                            lambda: own.call(lambda c: int(c.execute(PG_NEXT_XID_SQL).fetchone()[0])),
                            self.pool.conninfo, after_t, poll_seconds, own.close_sync)

    async def ping(self) -> bool:
        try:
            await self._call(lambda c: c.execute("SELECT 1").fetchone())
        except (psycopg.Error, OSError):
            return False
        return True

    async def close(self) -> None:
        self.pool.close()
