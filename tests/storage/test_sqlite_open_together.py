"""Several server workers opening a new SQLite database at the same moment all get it in WAL mode: SQLite
refuses the second simultaneous switch with "database is locked" without waiting, which must not stop a
worker from starting."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

from caregate.storage.sqlite import use_wal


def _open(path: str, go: str, results: multiprocessing.Queue) -> None:
    while not os.path.exists(go):
        time.sleep(0.0005)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        use_wal(conn)
        results.put(conn.execute("PRAGMA journal_mode").fetchone()[0])
    except sqlite3.Error as exc:
        results.put(f"error: {exc}")
    finally:
        conn.close()


def test_workers_opening_a_new_database_together_all_switch_it_to_wal(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    answers = []
    for round_ in range(12):
        results: multiprocessing.Queue = ctx.Queue()
        go = tmp_path / f"go{round_}"
        procs = [ctx.Process(target=_open, args=(str(tmp_path / f"db{round_}.sqlite"), str(go), results))
                 for _ in range(3)]
        for proc in procs:
            proc.start()
        time.sleep(0.05)
        go.touch()
        for proc in procs:
            proc.join(timeout=60)
        answers += [results.get(timeout=10) for _ in procs]
    assert answers == ["wal"] * 36
