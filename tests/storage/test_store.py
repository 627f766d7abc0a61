"""The storage contract, run on every engine: versions, atomicity, no lost updates, change log."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import orjson
import pytest

from caregate.clock import FixedClock
from caregate.errors import FhirError
from caregate.search.query import SearchQuery
from caregate.storage import HistoryQuery, Write, open_store

pytestmark = pytest.mark.anyio


def pat(i: int) -> dict:
    return {"resourceType": "Patient", "name": [{"family": f"Fam{i}"}]}


async def test_versions_and_history(database_url: str) -> None:
    clock = FixedClock(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    store = open_store(database_url, clock)
    try:
        s1 = (await store.transact([Write("update", "Patient", "p1", pat(1))]))[0]
        clock.advance(60)
        s2 = (await store.transact([Write("update", "Patient", "p1", pat(2))]))[0]
        assert (s1.version, s2.version) == (1, 2)
        assert s1.method == "create" and s2.method == "update"
        current = await store.read("Patient", "p1")
        assert current is not None
        body = orjson.loads(current.json)
        assert body["meta"] == {"versionId": "2", "lastUpdated": "2025-01-02T03:05:05.000Z"}
        old = await store.vread("Patient", "p1", 1)
        assert old is not None and orjson.loads(old.json)["name"][0]["family"] == "Fam1"
        await store.transact([Write("delete", "Patient", "p1")])
        gone = await store.read("Patient", "p1")
        assert gone is not None and gone.deleted and gone.version == 3
        page = await store.history(HistoryQuery("Patient", "p1"))
        assert [(s.version, s.method) for s in page.items] == [(3, "delete"), (2, "update"), (1, "create")]
        changes = await store.changes(0)
        assert [c.version for c in changes] == [1, 2, 3]
        assert changes[0].t < changes[1].t < changes[2].t
    finally:
        await store.close()


async def test_transaction_is_all_or_nothing(database_url: str) -> None:
    store = open_store(database_url)
    try:
        await store.transact([Write("update", "Patient", "a", pat(1))])
        with pytest.raises(FhirError) as err:
            await store.transact([Write("update", "Patient", "b", pat(2)),
                                  Write("update", "Patient", "a", pat(3), if_match=7)])
        assert err.value.category == "precondition"
        assert await store.read("Patient", "b") is None
        a = await store.read("Patient", "a")
        assert a is not None and a.version == 1
        count = await store.search(SearchQuery("Patient", summary="count"))
        assert count.total == 1
    finally:
        await store.close()


def test_concurrent_writers_lose_no_update(database_url: str) -> None:
    """Writers on separate stores (as separate server processes would be) each add versions to one resource:
    every write is kept as its own version."""
    import asyncio

    setup = open_store(database_url)
    asyncio.run(setup.transact([Write("update", "Patient", "shared", pat(0))]))
    asyncio.run(setup.close())
    writers, each = 4, 15
    errors: list[BaseException] = []

    def work(w: int) -> None:
        store = open_store(database_url)
        try:
            for i in range(each):
                store.transact_sync([Write("update", "Patient", "shared", pat(w * 100 + i))])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            asyncio.run(store.close())

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    store = open_store(database_url)
    try:
        final = asyncio.run(store.read("Patient", "shared"))
        assert final is not None and final.version == 1 + writers * each
    finally:
        asyncio.run(store.close())


async def test_index_rows_follow_the_current_version(database_url: str) -> None:
    from caregate.search.query import parse
    from caregate.search.registry import default_registry

    store = open_store(database_url)
    reg = default_registry()
    try:
        await store.transact([Write("update", "Patient", "x", pat(1))])
        await store.transact([Write("update", "Patient", "x", {"resourceType": "Patient",
                                                               "name": [{"family": "Other"}]})])
        old = await store.search(parse("Patient", [("family", "fam1")], reg))
        new = await store.search(parse("Patient", [("family", "other")], reg))
        assert [s.id for s in old.items] == []
        assert [s.id for s in new.items] == ["x"]
    finally:
        await store.close()


async def test_migration_backfills_the_text_index(database_url: str) -> None:
    """A database made before full-text search (schema 1) gets its text index filled on first open."""
    from caregate.search.query import parse
    from caregate.search.registry import default_registry

    store = open_store(database_url)
    body = {"resourceType": "Patient", "name": [{"family": "Backfill"}]}
    await store.transact([Write("update", "Patient", "old", body)])
    await store.close()
    if database_url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(database_url[len("sqlite:///"):])
        conn.executescript("DROP TABLE idx_text; UPDATE schema_version SET version = 1;")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TABLE idx_text")
            conn.execute("UPDATE schema_version SET version = 1")
    store = open_store(database_url)
    try:
        page = await store.search(parse("Patient", [("_content", "backfill")], default_registry()))
        assert [s.id for s in page.items] == ["old"]
    finally:
        await store.close()


async def test_one_resource_written_twice_in_a_transaction_keeps_only_its_last_index_rows(database_url: str) -> None:
    from caregate.search.query import parse
    from caregate.search.registry import default_registry

    store = open_store(database_url)
    reg = default_registry()
    try:
        await store.transact([Write("update", "Patient", "twice", pat(1)), Write("update", "Patient", "twice", pat(2))])
        first = await store.search(parse("Patient", [("family", "fam1")], reg))
        second = await store.search(parse("Patient", [("family", "fam2")], reg))
        assert ([s.id for s in first.items], [s.id for s in second.items]) == ([], ["twice"])
        current = await store.read("Patient", "twice")
        assert current is not None and current.version == 2
    finally:
        await store.close()
