"""A real Synthea bulk export, made by nobody on this project, loads whole with every reference resolved."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from caregate.bulkload import Problem, load_files
from caregate.interactions.references import collect_references, is_conditional
from tests.bulkload.conftest import count, read

SYNTHEA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "synthea-10-patients"


def test_synthea_export_loads_with_counts_matching_its_files(store) -> None:
    if not SYNTHEA.is_dir():
        pytest.skip(f"../shared/testdata is absent: {SYNTHEA} holds the Synthea export this test loads")
    files = sorted(SYNTHEA.glob("*.ndjson.gz"))
    expected = {}
    for f in files:
        with gzip.open(f, "rb") as lines:
            expected[f.name.split(".")[0]] = sum(1 for line in lines if line.strip())
    problems: list[Problem] = []

    summary = load_files(store, [SYNTHEA], report=problems.append)

    assert problems == []
    assert summary.failed == 0
    assert summary.loaded == sum(expected.values())
    assert {t: count(store, t) for t in expected} == expected
    # Every conditional reference was rewritten to the id of its one match, and that resource is there.
    targets: set[str] = set()
    for f in files:
        with gzip.open(f, "rb") as lines:
            for line in lines:
                resource = orjson.loads(line)
                stored = read(store, resource["resourceType"], resource["id"])
                assert stored is not None
                for ref in collect_references(stored, set()):
                    assert not is_conditional(ref), (resource["id"], ref)
                    if ref.split("/")[0] in ("Practitioner", "Organization", "Location"):
                        targets.add(ref)
    assert targets
    assert all(read(store, *ref.split("/")) is not None for ref in targets)
