"""Ingest: synthetic patients loaded as transaction Bundles, against the same JSON stored raw in the same engine.

The baseline is what the engine does with no FHIR at all: one key-value table (id TEXT PRIMARY KEY, json), the
same resources' serialised JSON, the same connection settings and the same transaction per Bundle. The ratio is
then the cost of everything caregate adds (reference resolution, meta, history, the search index), whatever the
machine. Parsing the Bundles and compiling the index extractors happen before the clock starts for both.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from bench import data
from bench.report import Row, Target

SQLITE_TARGET = 5_000.0  # resources/s
RATIO_TARGET = 0.10


def _parsed(raw: Sequence[bytes]) -> list[dict]:
    return [orjson.loads(b) for b in raw]


def _warm_up(bundles: list[dict]) -> None:
    """Compile each resource type's index extractors, as a running server has long done before a load."""
    from caregate.search.extract import plan_for

    for rtype in sorted({r["resourceType"] for b in bundles for r in data.resources(b)}):
        plan_for(rtype)


def caregate_rate(url: str, raw: Sequence[bytes]) -> tuple[float, int]:
    """Resources/s through `transaction`, as `POST [base]` runs it; and the number of resources."""
    from caregate.interactions.context import RequestContext
    from caregate.interactions.transaction import transaction
    from caregate.search.registry import default_registry
    from caregate.storage import open_store

    bundles = _parsed(raw)
    count = sum(1 for b in bundles for _ in data.resources(b))
    _warm_up(bundles)
    store = open_store(url)
    ctx = RequestContext(store, default_registry(), "http://bench.invalid/fhir")

    async def run() -> float:
        start = time.perf_counter()
        for bundle in bundles:
            await transaction(ctx, bundle)
        elapsed = time.perf_counter() - start
        await store.close()
        return elapsed

    return count / asyncio.run(run()), count


def _kv_rows(raw: Sequence[bytes]) -> list[list[tuple[str, bytes]]]:
    return [[(f"{r['resourceType']}/{r['id']}", orjson.dumps(r)) for r in data.resources(orjson.loads(b))]
            for b in raw]


_PRAGMAS = ("journal_mode", "synchronous", "cache_size", "temp_store", "wal_autocheckpoint")


def _caregate_pragmas(path: Path) -> list[str]:
    """The settings caregate's SQLite store gives its connection, read from one, so the baseline always matches."""
    from caregate.storage import open_store

    store = open_store(f"sqlite:///{path}")
    try:
        conn = store.conn  # type: ignore[attr-defined]
        return [f"{name}={conn.execute(f'PRAGMA {name}').fetchone()[0]}" for name in _PRAGMAS]
    finally:
        asyncio.run(store.close())


def sqlite_baseline_rate(path: Path, raw: Sequence[bytes]) -> float:
    """The same JSON into one SQLite table, on a connection set up as caregate's SQLite store sets its own."""
    batches = _kv_rows(raw)
    pragmas = _caregate_pragmas(path.with_name(f"{path.stem}-settings.db"))
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in pragmas:
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE kv (id TEXT PRIMARY KEY, json BLOB NOT NULL)")
    start = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO kv (id, json) VALUES (?, ?)", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return sum(len(b) for b in batches) / elapsed


def postgres_baseline_rate(url: str, raw: Sequence[bytes]) -> float:
    """The same JSON into one PostgreSQL table as JSONB, the column type caregate stores resources in."""
    import psycopg

    batches = [[(k, v.decode()) for k, v in rows] for rows in _kv_rows(raw)]
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kv (id TEXT PRIMARY KEY, json JSONB NOT NULL)")
        conn.commit()
        start = time.perf_counter()
        for rows in batches:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany("INSERT INTO kv (id, json) VALUES (%s, %s::jsonb) "
                                "ON CONFLICT (id) DO UPDATE SET json = excluded.json", rows)
        elapsed = time.perf_counter() - start
    return sum(len(b) for b in batches) / elapsed


def run(patients: int, scratch: Path, engines: Sequence[str] = ("sqlite", "postgresql")) -> list[Row]:
    raw = data.bundles(patients)
    rows: list[Row] = []
    if "sqlite" in engines:
        rate, count = caregate_rate(f"sqlite:///{scratch / 'ingest.db'}", raw)
        base = sqlite_baseline_rate(scratch / "ingest-kv.db", raw)
        rows.append(Row("ingest", f"SQLite, {patients} patients as {len(raw)} transactions ({count:,} resources)",
                        rate, "resources/s", base, "raw key-value",
                        (Target(">=", SQLITE_TARGET), Target(">=", RATIO_TARGET, "ratio"))))
    if "postgresql" in engines:
        rows += _postgres_rows(patients, raw)
    return rows


def _postgres_rows(patients: int, raw: Sequence[bytes]) -> list[Row]:
    from bench.procs import postgres

    measure = f"PostgreSQL, {patients} patients as {len(raw)} transactions"
    try:
        with postgres() as cluster:
            rate, count = caregate_rate(cluster.create_database("ingest"), raw)  # type: ignore[attr-defined]
            base = postgres_baseline_rate(cluster.create_database("ingest_kv"), raw)  # type: ignore[attr-defined]
    except Exception as exc:  # PostgreSQL missing or failing: report it in the table, keep the other figures
        return [Row("ingest", measure, None, "resources/s", targets=(Target(">=", RATIO_TARGET, "ratio"),),
                    note=f"not measured: {str(exc).splitlines()[0][:120]}")]
    return [Row("ingest", f"{measure} ({count:,} resources)", rate, "resources/s", base, "raw key-value",
                (Target(">=", RATIO_TARGET, "ratio"),), note="fsync off (throwaway cluster)")]
