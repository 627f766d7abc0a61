"""`_sort=-date` read in index order gives the order search.html#sort asks for, on both engines: each resource
by its latest date, ties by age in the store, resources without a date last, across page boundaries."""

from __future__ import annotations

import pytest

from caregate.search.query import parse
from caregate.search.registry import default_registry
from caregate.storage import Write, open_store

pytestmark = pytest.mark.anyio

# Goal.target.due gives several dates per resource: the latest one decides (search.html#sort).
DUES = {
    "g0": ["2020-01-01", "2024-05-01"],
    "g1": ["2023-01-01"],
    "g2": [],
    "g3": ["2024-05-01", "2019-01-01"],  # ties g0 on its latest date: store order decides
    "g4": ["2024-05"],  # the month ends after 2024-05-01: later than g0 and g3
    "g5": [],
    "g6": ["2010-06-30", "2025-12-31T23:00:00Z"],
    "g7": ["2023-01-01", "2023-01-01"],
}
EXPECTED = ["g6", "g4", "g0", "g3", "g1", "g7", "g2", "g5"]


def _goal(id_: str, dues: list[str]) -> dict:
    return {"resourceType": "Goal", "id": id_, "lifecycleStatus": "active", "description": {"text": id_},
            "subject": {"reference": "Patient/p"}, "target": [{"dueDate": d} for d in dues]}


async def _all_pages(store, params: list[tuple[str, str]], size: int) -> list[str]:
    reg = default_registry()
    query = parse("Goal", params, reg)
    page = await store.search(query, size)
    seen = [s.id for s in page.items]
    while page.next_cursor:
        query = parse("Goal", [*params, ("_cursor", page.next_cursor)], reg)
        page = await store.search(query, size)
        seen += [s.id for s in page.items]
    return seen


def test_which_searches_read_in_index_order() -> None:
    from caregate.storage.sql.compiler import compile_latest_first

    def latest(*params: tuple[str, str]) -> bool:
        query = parse("Goal", list(params), default_registry())
        return compile_latest_first(query, limit=21, offset=0) is not None

    assert latest(("_sort", "-target-date"))
    assert latest(("_sort", "-target-date"), ("target-date", "ge2024"))
    assert not latest(("_sort", "-target-date"), ("subject", "Patient/p")), "a selective clause filters first"
    assert not latest(("_sort", "target-date"))
    assert not latest(("_sort", "-target-date,_id"))
    assert not latest(("_sort", "-_lastUpdated"))


@pytest.mark.parametrize("size", [1, 3, 5, 20])
async def test_latest_first_order_and_paging(database_url: str, size: int) -> None:
    store = open_store(database_url)
    try:
        for id_, dues in DUES.items():  # one transaction each: the store order is the order written
            await store.transact([Write("update", "Goal", id_, _goal(id_, dues))])
        assert await _all_pages(store, [("_sort", "-target-date")], size) == EXPECTED
        later = [g for g in EXPECTED if g in ("g6", "g4", "g0", "g3")]
        assert await _all_pages(store, [("_sort", "-target-date"), ("target-date", "ge2024")], size) == later
        selective = await _all_pages(store, [("_sort", "-target-date"), ("subject", "Patient/p")], size)
        assert selective == EXPECTED, "the general sort, taken when a clause narrows the search, agrees"
        rising = await _all_pages(store, [("_sort", "target-date")], size)
        assert rising == ["g6", "g3", "g0", "g1", "g7", "g4", "g2", "g5"], "ascending: by the earliest date"
    finally:
        await store.close()
