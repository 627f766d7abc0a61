"""The audit store: an append-only table in the resource database, written in batches, read by patient.

Every request awaits its own record's commit before its response goes out, so an acknowledged request is
always audited; requests arriving while a commit is running share the next one (group commit), which keeps
the cost per request to one queue append when the server is busy. The chain is extended under a lock held
by the writing transaction (PostgreSQL advisory lock, SQLite write lock), so several server processes
sharing one database still build one chain.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from caregate.audit.chain import GENESIS, Broken, canonical, link, verify

DDL = (
    "CREATE TABLE IF NOT EXISTS audit_event (seq BIGINT PRIMARY KEY, recorded TEXT NOT NULL, json TEXT NOT NULL, "
    "hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_patient (patient TEXT NOT NULL, seq BIGINT NOT NULL, "
    "PRIMARY KEY (patient, seq))",
)
_LOCK_KEY = 727276  # PostgreSQL advisory lock serialising chain extension across processes


class AuditLog:
    """Append, read by patient and verify the AuditEvents in the database `url` names."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if not self.postgres and not url.startswith("sqlite:///"):
            raise ValueError(f"Unsupported database URL {url!r}: use sqlite:///path or postgresql://...")
        self._conn: Any = None
        self._finalizer: weakref.finalize | None = None  # closes the connection if the log is dropped unclosed
        self._conn_lock = threading.Lock()
        self._pending: list[tuple[dict, list[str], asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    # connection ---------------------------------------------------------------------------------------------
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
        path = self.url[len("sqlite:///"):]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # As the resource store: a commit is in the write-ahead log before the response goes out, so it survives
        # the server process crashing; surviving a power cut as well needs PostgreSQL (or synchronous=FULL).
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        for stmt in DDL:
            conn.execute(stmt)
        return conn

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._conn_lock:
            self._open()
            return list(self._conn.execute(self._sql(sql), args).fetchall())

    def _open(self) -> None:
        if self._conn is None:
            self._conn = self._connect()
            self._finalizer = weakref.finalize(self, self._conn.close)

    def close(self) -> None:
        with self._conn_lock:
            if self._finalizer is not None:
                self._finalizer()
            self._conn = self._finalizer = None

    # writing ------------------------------------------------------------------------------------------------
    async def record(self, event: dict, patients: list[str]) -> None:
        """Append `event` (an AuditEvent without id) naming `patients`; returns once it is committed."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((event, patients, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self.append, [(e, p) for e, p, _ in batch])
            except Exception as exc:  # every waiting request fails rather than answering unaudited
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)

    def append(self, batch: list[tuple[dict, list[str]]]) -> None:
        """Extend the chain with `batch` in one transaction (blocking)."""
        with self._conn_lock:
            self._open()
            conn = self._conn
            if self.postgres:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    self._append(conn, batch)
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._append(conn, batch)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _append(self, conn: Any, batch: list[tuple[dict, list[str]]]) -> None:
        last = conn.execute("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchone()
        seq, previous = (last[0], last[1]) if last else (0, GENESIS)
        events, patients = [], []
        for event, who in batch:
            seq += 1
            body = canonical({**event, "id": str(seq)})
            previous = link(previous, body)
            events.append((seq, event.get("recorded", ""), body.decode(), previous))
            patients.extend((p, seq) for p in dict.fromkeys(who))
        cur = conn.cursor()
        cur.executemany(self._sql("INSERT INTO audit_event (seq, recorded, json, hash) VALUES (?, ?, ?, ?)"), events)
        if patients:
            cur.executemany(self._sql("INSERT INTO audit_patient (patient, seq) VALUES (?, ?)"), patients)

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
