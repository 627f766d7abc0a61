"""Following the change log in commit order: the `ChangeFeed` each engine hands out to its readers.

Every write transaction inserts one `changes` row (its transaction number `t`) beside the versions it
writes, in the same database transaction, so a committed write is always in the log and a rolled-back one
never is. A reader wants the log *in order* and *final*: once it has passed `t`, no change with a smaller
`t` may appear later. How an engine guarantees that differs:

- SQLite has one writer at a time and gives the new row `max(t) + 1` inside the write lock, so `t` rises
  in commit order and a rolled-back number is simply used again: every visible row is final.
- PostgreSQL takes `t` from a sequence when the transaction writes its `changes` row, and transactions
  commit in any order, so a reader may see `t = 7` while `t = 6` is still in flight (or rolled back, a
  permanent hole). Each writer takes its transaction id before its `t`, so every holder of a `t` at or below
  the newest one a read saw has an id below one the reader takes after that read. Once no transaction with
  a smaller id is running in this database (the snapshot's in-progress list, `pg_current_snapshot()`, is
  complete below its xmax), every hole up to that newest `t` is final: committed since, and so visible, or
  never to be. Nothing is timed, and transactions of other databases in the cluster are not waited for.

Writers also wake readers: PostgreSQL writers `NOTIFY caregate_changes` in their transaction (delivered
at commit only, so a rollback wakes nobody) and readers `LISTEN`; SQLite wakes readers in the same process
directly, and other processes on the same file notice within `poll_seconds`. Waking is only a hint: the
log is the truth, and a reader that misses a wake-up still reads everything at its next look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from caregate.storage.base import Change

log = logging.getLogger("caregate.storage")

CHANNEL = "caregate_changes"
FEED_SQL = ("SELECT c.t, h.type, h.id, h.version, h.method, h.last_updated, h.deleted, h.json FROM (SELECT t "
            "FROM changes WHERE t > ? ORDER BY t LIMIT ?) c LEFT JOIN history h ON h.t = c.t ORDER BY c.t, h.rid")
HEAD_SQL = "SELECT max(t) FROM changes"
# The transactions in flight when the statement's snapshot was taken, less those seen running where they
# cannot write this log: in another database, or in a process that is not a client (autovacuum's ANALYZE
# holds a transaction id for as long as it reads a table). Only those are left out: one of ours that ended
# since the snapshot may have committed a `t` the snapshot cannot see.
_RUNNING = ("(SELECT pg_snapshot_xmax(pg_current_snapshot())::text || ':' || COALESCE(string_agg(x::text, ','), '') "
            "FROM pg_snapshot_xip(pg_current_snapshot()) x WHERE xid(x) NOT IN (SELECT backend_xid FROM "
            "pg_stat_activity WHERE backend_xid IS NOT NULL AND (datname IS DISTINCT FROM current_database() "
            "OR backend_type <> 'client backend')))")
PG_NEXT_XID_SQL = "SELECT pg_current_xact_id()::text"
PG_HEAD_SQL = f"SELECT {_RUNNING}, (SELECT max(t) FROM changes)"
PG_FEED_SQL = ("SELECT s.running, c.t, h.type, h.id, h.version, h.method, h.last_updated, h.deleted, h.json::text "
               f"FROM (SELECT {_RUNNING} AS running) s LEFT JOIN LATERAL (SELECT t FROM changes WHERE t > %s "
               "ORDER BY t LIMIT %s) c ON true LEFT JOIN history h ON h.t = c.t ORDER BY c.t, h.rid")

# (t, type, id, version, method, last_updated, deleted, json); type is None for a transaction without versions
Rows = list[tuple[Any, ...]]


def _json(deleted: Any, value: Any) -> bytes:
    if deleted or value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)


def _changes(rows: Rows) -> tuple[list[Change], list[int]]:
    """The versions and the distinct transaction numbers of some feed rows, in `t` order."""
    changes = [Change(r[0], r[1], r[2], r[3], r[4], r[5], _json(r[6], r[7])) for r in rows if r[1] is not None]
    ts = sorted({r[0] for r in rows})
    return changes, ts


class SqliteFeed:
    """A reader of a SQLite store's log: every visible row is final (see the module docstring)."""

    def __init__(self, read: Callable[[int, int], Rows], newest: Callable[[], int],
                 waiters: set[Callable[[], None]], after_t: int, poll_seconds: float) -> None:
        self.cursor = after_t
        self.settling = False
        self._read = read
        self._newest = newest
        self._waiters = waiters
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        waiters.add(self._woken)

    def _woken(self) -> None:
        """Called by the store after each commit, from whichever thread committed."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the reader's event loop has ended
                self._loop.call_soon_threadsafe(self._wake.set)

    async def head(self) -> int:
        return self._newest()

    async def next(self, limit: int = 1000) -> list[Change]:
        changes, ts = _changes(self._read(self.cursor, limit))
        if ts:
            self.cursor = ts[-1]
        return changes

    async def wait(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=min(timeout, self._poll))
        self._wake.clear()

    def trust(self, t: int) -> None:
        """Every visible row is final here already (see `PostgresFeed.trust`)."""

    async def close(self) -> None:
        self._waiters.discard(self._woken)


class OwnConnection:
    """A connection of the reader's own, outside the store's pool: under a write burst the pool is busy with
    writers, and a reader queueing for it would fall behind the very writes it follows."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._conn: Any = None
        self._lock = threading.Lock()  # one statement at a time; closing waits for the one running
        self._closed = False

    def _run(self, fn: Callable[[Any], Any]) -> Any:
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                if self._closed:
                    raise psycopg.OperationalError("the change feed is closed")
                if self._conn is None:
                    self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
                try:
                    return fn(self._conn)
                except psycopg.OperationalError:  # the server closed it (restart, idle timeout): once more, anew
                    self._drop()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    async def call(self, fn: Callable[[Any], Any]) -> Any:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self._run, fn)

    def close_sync(self) -> None:
        self._closed = True
        with self._lock:
            self._drop()


def _snapshot(text: str) -> tuple[int, frozenset[int]]:
    """(xmax, in-progress ids) of what a feed statement saw (`xmax:xip,xip,...`)."""
    xmax, _, xip = text.partition(":")
    return int(xmax), frozenset(int(x) for x in xip.split(",") if x)


class PostgresFeed:
    """A reader of a PostgreSQL store's log that passes a hole only once it is final (module docstring)."""

    def __init__(self, read: Callable[[int, int], Awaitable[tuple[str, Rows]]],
                 newest: Callable[[], Awaitable[tuple[str, int]]], next_xid: Callable[[], Awaitable[int]],
                 conninfo: str, after_t: int, poll_seconds: float,
                 on_close: Callable[[], None] | None = None) -> None:
        self.cursor = after_t
        self.settling = False  # a hole is held back: look again soon
        self._read = read
        self._newest = newest
        self._next_xid = next_xid
        self._conninfo = conninfo
        self._poll = poll_seconds
        self._on_close = on_close
        self._settled = after_t  # every t at or below this is final
        self._fence: tuple[int, int] | None = None  # (an xid above every holder's, the newest t then seen)
        self._listener: Any = None
        self._listen_failed = False

    @staticmethod
    def _drained(fence_xid: int, snap: str) -> bool:
        """Whether every transaction with an id below `fence_xid` had ended when `snap` was taken: a snapshot
        lists the running ids below its xmax, so once xmax passes the fence the list says it all."""
        xmax, running = _snapshot(snap)
        return xmax > fence_xid and not any(x < fence_xid for x in running)

    async def head(self) -> int:
        """The newest `t` such that every change at or before it is final (waits for in-flight writers)."""
        _, top = await self._newest()
        fence = await self._next_xid()  # assigned after that read: above the id of every holder of a t <= top
        while not self._drained(fence, (await self._newest())[0]):
            await asyncio.sleep(0.005)
        return top

    async def next(self, limit: int = 1000) -> list[Change]:
        """Every holder of a `t` at or below the newest one seen took its transaction id before that read;
        an id taken after the read is above them all, so once no transaction below it runs, every `t` up to
        the newest one seen then is final (committed and visible, or never to be)."""
        snap, rows = await self._read(self.cursor, limit)
        rows = [r for r in rows if r[0] is not None]
        changes, ts = _changes(rows)
        if self._fence is not None and self._drained(self._fence[0], snap):
            self._settled = max(self._settled, self._fence[1])
            self._fence = None
        passed = self.cursor
        for t in ts:
            if t != passed + 1 and t - 1 > self._settled:
                break
            passed = t
        self.settling = passed != (ts[-1] if ts else self.cursor)
        if self.settling and self._fence is None:
            self._fence = (await self._next_xid(), ts[-1])
        self.cursor = passed
        return [c for c in changes if c.t <= passed]

    def trust(self, t: int) -> None:
        """Take every `t` up to `t` as final without waiting: for a reader going over a stretch of the log
        another reader has already passed (so its holes are known to be final)."""
        self._settled = max(self._settled, t)

    async def _listen(self) -> Any:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, connect_timeout=5)
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:  # failed or cancelled (the reader is stopping): never leave it open
            await asyncio.shield(conn.close())
            raise
        return conn

    async def wait(self, timeout: float) -> None:
        """Until a writer commits (NOTIFY), or `timeout`; briefly when a hole is held back."""
        import psycopg

        if self.settling:
            await asyncio.sleep(min(timeout, 0.01))
            return
        if self._listener is None and not self._listen_failed:
            try:
                self._listener = await self._listen()
            except psycopg.Error:
                self._listen_failed = True  # poll instead; try LISTEN again after this wait
                log.warning("cannot LISTEN for changes; polling the change log")
        if self._listener is None:
            self._listen_failed = False
            await asyncio.sleep(min(timeout, self._poll))
            return
        try:
            async for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error:
            await self.close()

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        if self._on_close is not None:
            self._on_close()
