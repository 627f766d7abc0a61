"""The audit store: an append-only table in the resource database, written in batches, read by patient.

Durability rule: every request awaits its own record's commit before its response goes out, so an acknowledged
request is always audited. What makes that cheap is group commit: records arriving while a commit runs wait
in a queue and the next commit takes them all, in one transaction with one lock acquisition, one chain
extension (hashes computed in one pass) and, on PostgreSQL, one WAL flush; their patient index rows go in the
same transaction. The busier the server, the bigger the batches and the lower the cost per request.

One chain, across processes: several server processes (`serve --workers N`) share one database and extend
ONE hash chain, one batch at a time, under a lock held from reading the chain's last record to the commit:

- PostgreSQL: a transaction-scoped advisory lock. The commit is awaited on an asynchronous connection, so the
  event loop serves other requests (which gather into the next batch) while the lock and the flush are waited
  for; there is no thread hand-off. The lock is not held during the WAL flush (`_append_async` says how).
- SQLite: an exclusive `flock` on a file beside the database, then the SQLite write lock. `flock` wakes a
  waiting process the moment the lock is released, where SQLite's own busy handler would sleep for whole
  milliseconds. When both locks are free at once, which is the usual case, the batch is committed directly on
  the event loop: a commit in WAL mode is one write to the log file and takes tens of microseconds, far less
  than a hand-off to a thread and back. When either lock is held, by another process or by a resource write,
  the batch waits for it in a thread instead, so the event loop never blocks on a lock.

Writes commit their record with themselves, in an outbox. A write that committed must be answered as done,
and must be audited: appending its record to the chain after the write would, when that append fails, answer
500 for a write that happened and leave it unaudited. So a write's AuditEvent is made inside the write's own
database transaction and inserted into the `outbox` table there (caregate.storage.outbox; the web layer makes
it, caregate.web.audit.write_notes): the write and its record commit together or not at all, the response does
not wait for the chain, and a failed write leaves no note (its failure is audited as any request is). The log
then moves the notes into the chain: in a transaction that holds the chain's lock (as every batch does), it
deletes the waiting notes of topic "audit", chains them (sequence numbers, hashes, patient rows like every
other record) and commits, so a note is either still waiting or chained exactly once. It does so when this
process has committed a note (`nudge`, after the write's response), at start-up (`catch_up`, for notes a
process left when it stopped), every few seconds (`watch_outbox`, the same and notes of a failed attempt), and
before the trail is read here (`settle`); never as part of a read's batch. Order: the chain's order is the
order its transactions commit, so a write's record may follow the records of requests answered after it (it is
chained after the write's response; its `recorded` time is the write's). A batch Bundle, whose entries commit
one by one, is audited as before, once answered.

The alternative, one chain per process merged at verification, would let processes commit without waiting for
each other, but its total order would rest on clocks, and a deleted tail of one process's chain could hide
among the others. A single sequence keeps `caregate audit verify` proving one total order with nothing more
than the sequence numbers and the hashes, and with group commit the lock is taken once per batch, not once per
request, so it does not bound throughput.

SQLite durability: WAL with `synchronous=NORMAL`, as the resource store uses. A commit is in the write-ahead
log, in the operating system's hands, before the response goes out, so it survives the server process being
killed; it does not survive a power cut or a kernel crash (the last transactions before the failure can be
lost). `synchronous=FULL` would add an fsync to every batch, and the resources written in the same moments
would still be at the mercy of `NORMAL`: the embedded engine is for development and single-machine use, and
power-cut durability is PostgreSQL's job (`synchronous_commit` on, one WAL flush per batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from caregate.audit.chain import GENESIS, Broken, canonical, link, verify
from caregate.audit.notes import TOPIC, read_note
from caregate.storage import outbox
from caregate.storage.sqlite import use_wal

DDL = (
    "CREATE TABLE IF NOT EXISTS audit_event (seq BIGINT PRIMARY KEY, recorded TEXT NOT NULL, json TEXT NOT NULL, "
    "hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_patient (patient TEXT NOT NULL, seq BIGINT NOT NULL, "
    "PRIMARY KEY (patient, seq))",
)
# SQLite: the same tables as one B-tree each instead of two (a table plus its primary key's index). Only
# `INTEGER PRIMARY KEY` makes the sequence number the row's own key, and WITHOUT ROWID keeps the patient index as
# the table itself; each audit commit writes fewer pages (about 15% less time per record). Databases created
# before keep their tables, which hold the same columns.
SQLITE_DDL = (
    DDL[0].replace("seq BIGINT PRIMARY KEY", "seq INTEGER PRIMARY KEY"),
    DDL[1][:-1] + ") WITHOUT ROWID",
)
_LOCK_KEY = 727276  # PostgreSQL advisory lock serialising chain extension across processes
_LAST = "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1"
_INSERT_EVENT = "INSERT INTO audit_event (seq, recorded, json, hash) VALUES (?, ?, ?, ?)"
_INSERT_PATIENT = "INSERT INTO audit_patient (patient, seq) VALUES (?, ?)"
_BUSY_MS = 30000  # how long a waiting SQLite writer waits for another one
_RETRY_S = 0.0005  # between its tries (`_begin_waiting`)
_SPIN_S = 0.002  # how long a SQLite batch is retried on the event loop before it waits in a thread
# SQLite: a batch this big is committed in a thread when this process is the chain's only writer. Its inserts
# and commit run without the interpreter lock, beside the event loop, which meanwhile serves the next requests:
# on a saturated server that takes about a tenth off each request's cost to the loop. Smaller batches (a quiet
# server) commit on the loop, as a thread's hand-off would cost them more time than it saves. So do all batches
# while other processes extend the chain too (`serve --workers N`): a thread holding the chain's lock must win
# the interpreter lock back from a busy event loop after every SQLite call, which can take milliseconds each
# time (the interpreter's switch interval), and the other processes would wait that long for the chain.
_THREAD_BATCH = 8

Batch = list[tuple[dict, list[str]]]
_OUTBOX: Batch = []  # stands for the audit notes waiting in the outbox, taken inside the chain's transaction
OUTBOX_EVERY = 5.0  # seconds between looks at the outbox for notes another process left (one that stopped)
_HAS_OUTBOX = {True: "SELECT to_regclass('outbox') IS NOT NULL",
               False: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"}
log = logging.getLogger("caregate")


def _rows_for(batch: Batch, last: tuple | None) -> tuple[list[tuple], list[tuple]]:
    """The audit_event and audit_patient rows extending the chain whose last record is `last` with `batch`."""
    seq, previous = (int(last[0]), last[1]) if last else (0, GENESIS)
    events, patients = [], []
    for event, who in batch:
        seq += 1
        body = canonical({**event, "id": str(seq)})
        previous = link(previous, body)
        events.append((seq, event.get("recorded", ""), body.decode(), previous))
        patients.extend((p, seq) for p in dict.fromkeys(who))
    return events, patients


class AuditLog:
    """Append, read by patient and verify the AuditEvents in the database `url` names."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if not self.postgres and not url.startswith("sqlite:///"):
            raise ValueError(f"Unsupported database URL {url!r}: use sqlite:///path or postgresql://...")
        self._conn: Any = None  # reads and verification (and PostgreSQL appends outside an event loop)
        self._finalizer: weakref.finalize | None = None  # closes the connections if the log is dropped unclosed
        self._conn_lock = threading.Lock()
        self._writer: Any = None  # SQLite: the connection batches are appended on
        self._lock_fd: int | None = None  # SQLite: the file locked across processes while the chain grows
        self._write_lock = threading.Lock()  # the writer and the lock file, within this process
        self._checkpointer: _Checkpointer | None = None  # SQLite: moves the write-ahead log into the database
        self._async: Any = None  # PostgreSQL: the asynchronous connection batches are appended on
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[dict, list[str], asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self._chain_end = -1  # the sequence number of the last record this process appended
        self._alone = False  # no other process appended between this process's last two batches (_THREAD_BATCH)
        self._mover: asyncio.Task | None = None  # chains outbox notes when nudged, and every OUTBOX_EVERY seconds
        self._wake: asyncio.Event | None = None
        self._nudges = self._moved = 0  # notes this process committed, and how many of them are known chained
        self._outbox_seen = False  # the outbox table exists (the resource store creates it)

    # connections --------------------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self.postgres:
            import psycopg

            conn: Any = psycopg.connect(self.url, autocommit=True)
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            try:
                for stmt in DDL:
                    conn.execute(stmt)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
            return conn
        conn = sqlite3.connect(self._path(), timeout=_BUSY_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        use_wal(conn, _BUSY_MS / 1000)
        conn.execute("PRAGMA synchronous=NORMAL")  # why NORMAL: the module docstring
        conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        for stmt in SQLITE_DDL:
            conn.execute(stmt)
        return conn

    def _path(self) -> str:
        path = self.url[len("sqlite:///"):]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return path

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._conn_lock:
            self._open()
            return list(self._conn.execute(self._sql(sql), args).fetchall())

    def _open(self) -> None:
        if self._conn is None:
            self._conn = self._connect()
            self._arm_finalizer()

    def _open_writer(self) -> None:
        """SQLite: the append connection and the cross-process lock file (called holding `_write_lock`)."""
        if self._writer is None:
            with self._conn_lock:
                self._open()  # creates the tables
            self._writer = self._connect()
            self._writer.execute("PRAGMA busy_timeout=0")  # _append_now must not wait: it runs on the event loop
            self._writer.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in _Checkpointer's thread
            self._lock_fd = os.open(self._path() + ".audit-lock", os.O_RDWR | os.O_CREAT, 0o600)
            self._checkpointer = _Checkpointer(self._path())
            self._arm_finalizer()

    def _arm_finalizer(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _close_all, self._conn, self._writer, self._lock_fd, self._async,
                                           self._checkpointer)

    def close(self) -> None:
        if self._mover is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self._mover.cancel()
            self._mover = None
        with self._write_lock, self._conn_lock:  # the order _open_writer takes them in
            if self._finalizer is not None:
                self._finalizer()
            self._conn = self._writer = self._lock_fd = self._async = self._checkpointer = self._finalizer = None
            self._async_loop = None

    # writing ------------------------------------------------------------------------------------------------
    async def record(self, event: dict, patients: list[str]) -> None:
        """Append `event` (an AuditEvent without id) naming `patients`; returns once it is committed."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((event, patients, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        # One turn of the event loop first: requests already under way reach their own record() in it and join
        # this batch (on a busy server the batch grows from about two records to about six, and each commit's
        # fixed cost is shared that much more widely), for a delay of one turn.
        await asyncio.sleep(0)
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                if self.postgres:
                    await self._append_async([(e, p) for e, p, _ in batch])
                elif len(batch) >= _THREAD_BATCH and self._alone:
                    await asyncio.to_thread(self.append, [(e, p) for e, p, _ in batch])
                else:
                    # Another process's batch holds the locks for a fraction of a millisecond: try again on each
                    # turn of the event loop (which serves other requests meanwhile, and their records join this
                    # batch); only a longer wait (a resource write, a checkpoint) is handed to a thread.
                    give_up = loop.time() + _SPIN_S
                    while not self._append_now([(e, p) for e, p, _ in batch]):
                        if loop.time() > give_up:
                            await asyncio.to_thread(self.append, [(e, p) for e, p, _ in batch])
                            break
                        await asyncio.sleep(0)
                        batch, self._pending = batch + self._pending, []
            except Exception as exc:  # every waiting request fails rather than answering unaudited
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)

    def append(self, batch: Batch) -> None:
        """Extend the chain with `batch` in one transaction, waiting for the locks (blocking)."""
        if self.postgres:
            with self._conn_lock:
                self._open()
                with self._conn.transaction():
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    self._insert(self._conn, batch)
            return
        with self._write_lock:
            self._open_writer()
            assert self._lock_fd is not None
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._begin_waiting()
                self._commit_sqlite(batch)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _begin_waiting(self) -> None:
        """SQLite: BEGIN IMMEDIATE on the writer, retried every half millisecond until the database is free.

        SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ms and so on between tries, so a lock held for a
        millisecond (a checkpoint updating the log's index, a resource write) cost the requests waiting on this
        batch 10 to 25 ms. The writer's busy_timeout is 0; this waits in steps of its own."""
        deadline = time.monotonic() + _BUSY_MS / 1000
        while True:
            try:
                self._writer.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(_RETRY_S)

    def _append_now(self, batch: Batch) -> bool:
        """SQLite: commit `batch` at once if nobody holds the locks, without waiting; False if someone does."""
        if not self._write_lock.acquire(blocking=False):
            return False
        try:
            self._open_writer()
            assert self._lock_fd is not None
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                try:
                    self._writer.execute("BEGIN IMMEDIATE")  # the writer does not wait: busy_timeout is 0
                except sqlite3.OperationalError:  # a resource write or a checkpoint holds the database
                    return False
                self._commit_sqlite(batch)
                return True
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            self._write_lock.release()

    def _commit_sqlite(self, batch: Batch) -> None:
        """Inside BEGIN IMMEDIATE on the writer: extend the chain and commit, or roll back."""
        conn = self._writer
        try:
            self._insert(conn, batch)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT may leave it open: the next batch must start afresh
                conn.execute("ROLLBACK")
            raise
        assert self._checkpointer is not None
        self._checkpointer.committed()

    def _insert(self, conn: Any, batch: Batch) -> None:
        if batch is _OUTBOX:
            batch = self._notes(conn)
        last = conn.execute(_LAST).fetchone()
        self._alone = last is not None and int(last[0]) == self._chain_end  # nobody else wrote since our last batch
        events, patients = _rows_for(batch, last)
        self._chain_end = events[-1][0] if events else int(last[0]) if last else 0
        cur = conn.cursor()
        cur.executemany(self._sql(_INSERT_EVENT), events)
        if patients:
            cur.executemany(self._sql(_INSERT_PATIENT), patients)

    async def _append_async(self, batch: Batch) -> None:
        """PostgreSQL: extend the chain in one transaction on this event loop's connection, then make it durable.

        The chain transaction commits without waiting for its WAL flush (synchronous_commit off, for it alone),
        so the lock is released as soon as the rows are in; a second, empty but durable commit then waits for the
        flush, which covers every earlier WAL record, this batch's included. Another process can thus extend the
        chain while this one waits for the disk, and their flushes can be shared: the lock is held for
        milliseconds less per batch, and no response goes out before its record is on disk."""
        conn = await self._async_connection()
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            events, patients = _rows_for(batch, await (await conn.execute(_LAST)).fetchone())
            async with conn.cursor() as cur:
                await cur.executemany(self._sql(_INSERT_EVENT), events)
                if patients:
                    await cur.executemany(self._sql(_INSERT_PATIENT), patients)
        async with conn.transaction():
            await conn.execute("SELECT txid_current()")  # a transaction id, so that its commit flushes the WAL

    async def _async_connection(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._async is not None and self._async_loop is loop and not self._async.closed:
            return self._async
        import psycopg

        with self._conn_lock:
            self._open()  # creates the tables
        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        if self._async is not None:
            _finish(self._async)  # bound to an event loop that is gone
        self._async, self._async_loop = conn, loop
        self._arm_finalizer()
        return conn

    # the outbox ---------------------------------------------------------------------------------------------
    def move_outbox(self) -> None:
        """Chain every audit note waiting in the outbox and delete them, in one transaction (blocking)."""
        seen = self._nudges
        self.append(_OUTBOX)
        self._moved = max(self._moved, seen)

    def catch_up(self) -> None:
        """At start-up: chain the notes a process left when it stopped (a failure is logged, retried later)."""
        try:
            self.move_outbox()
        except Exception as exc:
            log.warning("audit notes left in the outbox not chained yet: %s", type(exc).__name__)

    def nudge(self) -> None:
        """A write has committed its audit note: chain it soon, on this event loop's mover."""
        self._nudges += 1
        self.watch_outbox()
        assert self._wake is not None
        self._wake.set()

    def watch_outbox(self, every: float = OUTBOX_EVERY) -> None:
        """Run the mover on this event loop: it chains notes when nudged and every `every` seconds."""
        loop = asyncio.get_running_loop()
        if self._mover is None or self._mover.done() or self._mover.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._mover = loop.create_task(self._move_loop(self._wake, every))

    async def settle(self) -> None:
        """Before the trail is read: chain the notes this process's writes committed, if any still wait."""
        if self._moved != self._nudges:
            try:
                await asyncio.to_thread(self.move_outbox)
            except Exception as exc:  # the trail is read as far as it is chained
                log.warning("audit notes not chained yet: %s", type(exc).__name__)

    async def _move_loop(self, wake: asyncio.Event, every: float) -> None:
        while True:
            wake.clear()
            try:
                await asyncio.to_thread(self.move_outbox)
            except Exception as exc:  # the notes stay in the outbox; the next attempt takes them
                log.warning("audit notes not chained yet: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await wake.wait()

    def _notes(self, conn: Any) -> Batch:
        """Inside the chain's transaction: take the audit notes out of the outbox, oldest first."""
        if not self._outbox_seen:
            self._outbox_seen = bool(conn.execute(_HAS_OUTBOX[self.postgres]).fetchone()[0])
            if not self._outbox_seen:
                return []
        return [read_note(body) for body in outbox.take(conn, self.postgres, TOPIC)]

    # reading ------------------------------------------------------------------------------------------------
    def about(self, patient: str | None, count: int, ids: list[int] | None = None) -> tuple[int, list[dict]]:
        """The newest `count` events naming `patient` (every event when None), limited to `ids` when given,
        and how many match."""
        where, args = [], []
        if patient is not None:
            where.append("e.seq IN (SELECT p.seq FROM audit_patient p WHERE p.patient = ?)")
            args.append(patient)
        if ids is not None:
            where.append(f"e.seq IN ({', '.join('?' for _ in ids)})" if ids else "1 = 0")
            args.extend(ids)
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        total = self._rows(f"SELECT COUNT(*) FROM audit_event e{cond}", tuple(args))[0][0]
        rows = self._rows(f"SELECT e.json FROM audit_event e{cond} ORDER BY e.seq DESC LIMIT ?", (*args, count))
        return total, [orjson.loads(r[0]) for r in rows]

    def get(self, id_: str) -> dict | None:
        """The AuditEvent with this id (its sequence number), or None."""
        if not id_.isdigit() or len(id_) > 18:
            return None
        rows = self._rows("SELECT json FROM audit_event WHERE seq = ?", (int(id_),))
        return orjson.loads(rows[0][0]) if rows else None

    def verify(self) -> tuple[int, Broken | None]:
        """Walk the whole chain: how many records hold, and the first broken one."""
        return verify(self._scan())

    def _scan(self) -> Iterator[tuple[int, str, str]]:
        after = 0
        while True:
            rows = self._rows("SELECT seq, json, hash FROM audit_event WHERE seq > ? ORDER BY seq LIMIT 5000",
                              (after,))
            if not rows:
                return
            yield from rows
            after = rows[-1][0]


def _finish(conn: Any) -> None:
    """Close an asynchronous PostgreSQL connection from synchronous code (its socket, at the libpq level)."""
    if not conn.closed:
        conn.pgconn.finish()


def _close_all(conn: Any, writer: Any, lock_fd: int | None, async_conn: Any,
               checkpointer: _Checkpointer | None) -> None:
    if checkpointer is not None:
        checkpointer.stop()
    for c in (conn, writer):
        if c is not None:
            c.close()
    if lock_fd is not None:
        os.close(lock_fd)
    if async_conn is not None:
        _finish(async_conn)


class _Checkpointer:
    """SQLite: copies the write-ahead log back into the database from a thread of its own.

    A checkpoint writes pages to the database file and fsyncs it, taking milliseconds; run by the committing
    connection (SQLite's default, every 1,000 pages) it would stall the event loop that committed. Here the
    audit writer never checkpoints: every `EVERY` commits this thread runs a PASSIVE checkpoint, which waits
    for no one and lets writers go on. The log restarts from its beginning once a checkpoint has caught up with
    it; should a sustained load keep it from catching up until the log passes `RESTART_FRAMES`, a RESTART
    checkpoint waits for the writers in flight and stops new ones until it is done (the event loop meanwhile
    hands batches to a thread, so it stays free).
    """

    EVERY = 256
    RESTART_FRAMES = 16384  # 64 MiB of 4 KiB pages

    def __init__(self, path: str) -> None:
        self._path = path
        self._commits = 0
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits >= self.EVERY:
            self._commits = 0
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-checkpoint", daemon=True)
                self._thread.start()
            self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _run(self) -> None:
        # A RESTART checkpoint holds off writers while it waits for readers: never for more than a second.
        conn = sqlite3.connect(self._path, timeout=1.0, isolation_level=None, check_same_thread=False)
        mode = "PASSIVE"
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopped:
                    return
                try:
                    _, frames, _ = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                except sqlite3.Error:  # the database is going away, or another checkpoint runs: try next time
                    continue
                mode = "RESTART" if frames >= self.RESTART_FRAMES else "PASSIVE"
        finally:
            conn.close()
