"""Helpers for the bulk-load tests: a fresh SQLite store, files written from resources, reading back."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from caregate.search.query import SearchQuery
from caregate.storage import ResourceStore, open_store

NPI = "http://hl7.org/fhir/sid/us-npi"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/load.db"


@pytest.fixture
def store(db_url: str) -> Iterator[ResourceStore]:
    s = open_store(db_url)
    yield s
    asyncio.run(s.close())


def write_ndjson(path: Path, *resources: dict | str) -> Path:
    """One line per item: a resource, or a string written as it is (to plant a broken line)."""
    lines = [r if isinstance(r, str) else orjson.dumps(r).decode() for r in resources]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def practitioner(npi: str, id_: str | None = None) -> dict:
    out: dict = {"resourceType": "Practitioner", "identifier": [{"system": NPI, "value": npi}],
                 "name": [{"family": "Jones"}]}
    if id_ is not None:
        out["id"] = id_
    return out


def encounter(id_: str, performer: str) -> dict:
    return {"resourceType": "Encounter", "id": id_, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/p1"},
            "participant": [{"individual": {"reference": performer}}]}


def read(store: ResourceStore, type_: str, id_: str) -> dict | None:
    stored = asyncio.run(store.read(type_, id_))
    return None if stored is None or stored.deleted else orjson.loads(stored.json)


def count(store: ResourceStore, type_: str) -> int:
    page = asyncio.run(store.search(SearchQuery(type_, summary="count")))
    return page.total or 0
