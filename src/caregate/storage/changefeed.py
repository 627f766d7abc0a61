"""Following the change log in commit order: the `ChangeFeed` each engine hands out to its readers.

Every write transaction inserts one `changes` row (its transaction number `t`) beside the versions it
writes, in the same database transaction, so a committed write is always in the log and a rolled-back one
never is. A reader wants the log *in order* and *final*: once it has passed `t`, no change with a smaller
`t` may appear later. How an engine guarantees that differs:

- SQLite has one writer at a time and gives the new row `max(t) + 1` inside the write lock, so `t` rises
  in commit order and a rolled-back number is simply used again: every visible row is final.
- PostgreSQL takes `t` from a sequence, and transactions commit in any order, so a reader may see `t = 7`
  while `t = 6` is still in flight (or rolled back, a permanent hole). Writers therefore take `t` at the very
  end of their transaction (`pg_stamp`; until then their rows carry minus their transaction id), holding a
  shared advisory lock from just before taking it until they commit; sharing it, writers never wait on each
  other. A holder of a hole below a `t` a read saw took that lock before the read (before the `t` it saw
  was even taken), so if it is still running it is among the lock's holders listed by the same statement
  (`pg_locks`, read after the statement's snapshot). Once a later read lists none of those holders, every
  hole up to that `t` is final to the reads after it: committed, and so visible, or never to be. The wait
  is the end of those few writes (their last statement and commit), not the whole of every write in
  flight; nothing is timed.

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
# _WAIT_NOTE: waits for a wake-up use `asyncio.timeout`, never `asyncio.wait_for`: on Python 3.11, wait_for
# returns normally when it is cancelled just as the event is set, swallowing the cancellation, so a loop polling
# every few milliseconds could outlive `task.cancel()` and hang whoever awaits the task (shutdown).

CHANNEL = "caregate_changes"
FEED_SQL = ("SELECT c.t, h.type, h.id, h.version, h.method, h.last_updated, h.deleted, h.json FROM (SELECT t "
            "FROM changes WHERE t > ? ORDER BY t LIMIT ?) c LEFT JOIN history h ON h.t = c.t ORDER BY c.t, h.rid")
HEAD_SQL = "SELECT max(t) FROM changes"
# The transactions that hold the stamp lock (in their last statement or commit; see `pg_stamp`) as the
# statement runs, as `virtualtransaction` ids separated by commas.
STAMP_LOCK = int.from_bytes(b"cg-stamp") & 0x7FFFFFFFFFFFFFFF
_RUNNING = ("(SELECT COALESCE(string_agg(virtualtransaction, ','), '') FROM pg_locks WHERE locktype = 'advisory' "
            f"AND classid = {STAMP_LOCK >> 32} AND objid = {STAMP_LOCK & 0xFFFFFFFF} AND objsubid = 1 AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))")
PG_NEXT_XID_SQL = "SELECT pg_current_xact_id()::text"
PG_HEAD_SQL = f"SELECT {_RUNNING}, (SELECT max(t) FROM changes)"
PG_FEED_SQL = ("SELECT s.running, c.t, h.type, h.id, h.version, h.method, h.last_updated, h.deleted, h.json::text "
               f"FROM (SELECT {_RUNNING} AS running) s LEFT JOIN LATERAL (SELECT t FROM changes WHERE t > %s "
               "ORDER BY t LIMIT %s) c ON true LEFT JOIN history h ON h.t = c.t ORDER BY c.t, h.rid")

# The end of a PostgreSQL write (see the module docstring): the `changes` row takes the next `t` and the
# transaction's rows trade their provisional number for it.
PG_STAMP_SQL = (f"WITH l AS (SELECT pg_advisory_xact_lock_shared({STAMP_LOCK})), "
                "c AS (INSERT INTO changes (ts, n) SELECT %s, %s FROM l RETURNING t), "  # locked before `t` is taken
                "h AS (UPDATE history SET t = (SELECT t FROM c) WHERE t = %s), "
                "r AS (UPDATE resources SET t = (SELECT t FROM c) WHERE rid = ANY(%s) AND t = %s), "
                "k AS (UPDATE contained SET t = (SELECT t FROM c) WHERE container = ANY(%s) AND t = %s) "
                "SELECT t FROM c")


def pg_stamp(cur: Any, provisional: int, ts: int, n: int, rids: list[int]) -> int:
    """Give a PostgreSQL write transaction its change number, as the last thing before it commits, holding
    the shared stamp lock from before the number is taken until that commit (module docstring)."""
    cur.execute(PG_STAMP_SQL, (ts, n, provisional, rids, provisional, rids, provisional))
    return int(cur.fetchone()[0])


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
            async with asyncio.timeout(min(timeout, self._poll)):  # not wait_for: see _WAIT_NOTE
                await self._wake.wait()
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


def _holders(text: str) -> frozenset[str]:
    """The stamp lock's holders a feed statement saw (`3/120,5/77`)."""
    return frozenset(x for x in text.split(",") if x)


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
        self._next_xid = next_xid  # kept for engines that fence on transaction ids; the stamp lock needs none
        self._conninfo = conninfo
        self._poll = poll_seconds
        self._on_close = on_close
        self._settled = after_t  # every t at or below this is final
        self._fence: tuple[frozenset[str], int] | None = None  # (the stamp lock's holders, the newest t seen then)
        self._vouched: frozenset[str] | None = None  # the holders the previous read listed
        self._listener: Any = None
        self._listen_failed = False

    async def head(self) -> int:
        """The newest `t` such that every change at or before it is final to any read made after this returns
        (waits for the writes that were at their end)."""
        seen, top = await self._newest()
        fence = _holders(seen)
        while fence & _holders((await self._newest())[0]):
            await asyncio.sleep(0.002)
        return top

    async def next(self, limit: int = 1000) -> list[Change]:
        """Changes after the cursor, up to the first hole that may still be in flight.

        A statement reads the log in its snapshot, then the stamp lock's holders; a holder that has let go
        by then may have committed after the snapshot. So the holders one read lists vouch only for the
        next read: a fence (holders at a hole, the newest `t` then) is passed once a read lists none of its
        holders, and the holes below it are final in the read after that one (module docstring)."""
        seen, rows = await self._read(self.cursor, limit)
        holders = _holders(seen)
        if self._fence is not None and self._vouched is not None and not self._fence[0] & self._vouched:
            self._settled = max(self._settled, self._fence[1])
            self._fence = None
        self._vouched = holders
        rows = [r for r in rows if r[0] is not None]
        changes, ts = _changes(rows)
        passed = self.cursor
        for t in ts:
            if t != passed + 1 and t - 1 > self._settled:
                break
            passed = t
        self.settling = passed != (ts[-1] if ts else self.cursor)
        if self.settling and self._fence is None:
            self._fence = (holders, ts[-1])
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
