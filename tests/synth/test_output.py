"""Writing data sets to disk: bulk-export NDJSON by resource type, or one file per Bundle."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from caregate.synth import generate, write_bundles, write_ndjson


def test_ndjson_has_one_file_per_type_and_one_resource_per_line(tmp_path: Path) -> None:
    bundles = list(generate(3, seed=2))
    expected = Counter(entry["resource"]["resourceType"] for b in bundles for entry in b["entry"])
    counts = write_ndjson(iter(bundles), tmp_path / "out")
    assert counts == dict(sorted(expected.items()))
    assert list(counts) == sorted(counts)
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == sorted(f"{t}.ndjson" for t in expected)
    for resource_type, count in counts.items():
        lines = (tmp_path / "out" / f"{resource_type}.ndjson").read_bytes().splitlines()
        assert len(lines) == count
        assert all(orjson.loads(line)["resourceType"] == resource_type for line in lines)


def test_ndjson_round_trips_the_resources(tmp_path: Path) -> None:
    bundles = list(generate(2, seed=6))
    write_ndjson(bundles, tmp_path)
    lines = [line for path in tmp_path.glob("*.ndjson") for line in path.read_bytes().splitlines()]
    written = sorted((orjson.loads(line) for line in lines), key=lambda r: (r["resourceType"], r["id"]))
    resources = (entry["resource"] for bundle in bundles for entry in bundle["entry"])
    assert written == sorted(resources, key=lambda r: (r["resourceType"], r["id"]))


def test_ndjson_replaces_an_earlier_export(tmp_path: Path) -> None:
    write_ndjson(generate(3, seed=1), tmp_path)
    counts = write_ndjson(generate(1, seed=1), tmp_path)
    lines = (tmp_path / "Patient.ndjson").read_bytes().splitlines()
    assert counts["Patient"] == len(lines) == 1


def test_bundles_are_written_in_order_with_readable_names(tmp_path: Path) -> None:
    bundles = list(generate(2, seed=4))
    paths = write_bundles(bundles, tmp_path / "bundles")
    assert [p.name for p in paths] == ["000-shared.json", "001-patient.json", "002-patient.json"]
    assert [orjson.loads(p.read_bytes()) for p in paths] == bundles
