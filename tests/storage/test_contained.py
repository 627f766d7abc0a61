"""Contained resources in the store (search.html#contained) and `_total=estimate` (search.html#total)."""

from __future__ import annotations

import pytest

from caregate.search.query import parse
from caregate.search.registry import default_registry
from caregate.storage import Write, open_store

pytestmark = pytest.mark.anyio


def _observation(family: str) -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
            "contained": [{"resourceType": "Patient", "id": "pt", "name": [{"family": family}]},
                          {"resourceType": "Patient", "name": [{"family": "No id: not indexed"}]}],
            "subject": {"reference": "#pt"}}


async def test_a_database_from_before_schema_5_gets_its_contained_resources_indexed(database_url: str) -> None:
    """Opening a schema-4 database (no `contained` table) indexes the resources already stored."""
    store = open_store(database_url)
    await store.transact([Write("update", "Observation", "old", _observation("Backfill"))])
    await store.close()
    if database_url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(database_url[len("sqlite:///"):])
        conn.executescript("DROP TABLE contained; UPDATE schema_version SET version = 4;")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TABLE contained")
            conn.execute("UPDATE schema_version SET version = 4")
    store = open_store(database_url)
    reg = default_registry()
    try:
        page = await store.search(parse("Patient", [("family", "backfill"), ("_contained", "true"),
                                                    ("_containedType", "contained")], reg))
        assert [(s.type, s.id, s.container) for s in page.items] == [("Patient", "pt", "Observation/old")]
        chained = await store.search(parse("Observation", [("subject:Patient.family", "backfill")], reg))
        assert [s.id for s in chained.items] == ["old"]
        nameless = await store.search(parse("Patient", [("family", "no id"), ("_contained", "true")], reg))
        assert nameless.items == [], "a contained resource without an id cannot be referred to, nor found"
    finally:
        await store.close()


async def test_total_estimate_is_exact_when_small_and_never_below_the_page(database_url: str) -> None:
    store = open_store(database_url)
    reg = default_registry()
    try:
        await store.transact([Write("update", "Patient", f"p{i}", {"resourceType": "Patient",
                                                                    "name": [{"family": f"Est{i % 3}"}]})
                              for i in range(30)])
        page = await store.search(parse("Patient", [("_total", "estimate")], reg), 5)
        assert page.total == 30, "a small estimate is replaced by the count, which is then cheap"
        one_page = await store.search(parse("Patient", [("family", "est1"), ("_total", "estimate")], reg), 20)
        assert one_page.total == 10, "a page holding every match is its own total"
    finally:
        await store.close()


async def test_total_estimate_uses_the_planner_on_postgresql(database_url: str) -> None:
    """With the exact-count threshold lowered to nothing, PostgreSQL answers from the planner's statistics:
    a positive whole number, at least what the first page holds; SQLite, having no estimates, counts."""
    store = open_store(database_url)
    reg = default_registry()
    try:
        await store.transact([Write("update", "Patient", f"p{i}", {"resourceType": "Patient", "gender": "female"})
                              for i in range(40)])
        store.core.ESTIMATE_EXACT_BELOW = 0
        page = await store.search(parse("Patient", [("gender", "female"), ("_total", "estimate")], reg), 5)
        assert isinstance(page.total, int) and page.total >= 6
        if database_url.startswith("sqlite"):
            assert page.total == 40
        else:
            from caregate.storage.sql.compiler import compile_count

            query = parse("Patient", [("gender", "female")], reg)
            with store.pool.connection() as conn:
                planned = store.core._planner_rows(conn, compile_count(query))
            assert isinstance(planned, int) and planned >= 1
            assert page.total == max(planned, 6)
        accurate = await store.search(parse("Patient", [("gender", "female"), ("_total", "accurate")], reg), 5)
        assert accurate.total == 40
    finally:
        await store.close()
