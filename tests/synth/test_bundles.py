"""Generated data is a set of idempotent transaction Bundles with valid, unique, resolvable ids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import Any

import orjson
import pytest

from caregate.synth import DEFAULT_NOW, generate
from caregate.synth.ids import is_fhir_id


@lru_cache(maxsize=1)
def sample() -> tuple[dict[str, Any], ...]:
    return tuple(generate(25, seed=11))


def resources(bundles: tuple[dict[str, Any], ...]) -> Iterator[dict[str, Any]]:
    for bundle in bundles:
        for entry in bundle["entry"]:
            yield entry["resource"]


def references(node: object) -> Iterator[str]:
    """Every ``reference`` string anywhere inside ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def test_same_seed_gives_byte_identical_output() -> None:
    first = b"".join(orjson.dumps(bundle) for bundle in generate(6, seed=3))
    second = b"".join(orjson.dumps(bundle) for bundle in generate(6, seed=3))
    assert first == second


def test_different_seeds_give_different_data() -> None:
    one = [orjson.dumps(bundle) for bundle in generate(4, seed=1)]
    two = [orjson.dumps(bundle) for bundle in generate(4, seed=2)]
    assert all(a != b for a, b in zip(one, two, strict=True))
    ids_one = {r["id"] for r in resources(tuple(orjson.loads(b) for b in one))}
    ids_two = {r["id"] for r in resources(tuple(orjson.loads(b) for b in two))}
    assert not ids_one & ids_two  # two data sets can live in one store side by side


def test_shared_directory_comes_first_then_one_bundle_per_patient() -> None:
    bundles = sample()
    assert len(bundles) == 26
    shared = {r["resourceType"] for r in resources(bundles[:1])}
    assert shared == {"Organization", "Location", "Practitioner", "PractitionerRole"}
    for bundle in bundles[1:]:
        kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
        assert kinds[0] == "Patient" and kinds.count("Patient") == 1


def test_every_entry_is_a_put_of_the_resource_at_its_own_id() -> None:
    for bundle in sample():
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
        assert is_fhir_id(bundle["id"])
        for entry in bundle["entry"]:
            resource = entry["resource"]
            url = f"{resource['resourceType']}/{resource['id']}"
            assert entry["request"] == {"method": "PUT", "url": url}
            assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"


def test_every_resource_has_a_valid_unique_id() -> None:
    seen: set[str] = set()
    for resource in resources(sample()):
        assert isinstance(resource["resourceType"], str) and resource["resourceType"][0].isupper()
        assert is_fhir_id(resource["id"]), resource["id"]
        key = f"{resource['resourceType']}/{resource['id']}"
        assert key not in seen
        seen.add(key)


def test_every_reference_points_at_a_generated_resource() -> None:
    bundles = sample()
    known = {f"{r['resourceType']}/{r['id']}" for r in resources(bundles)}
    found = list(references(list(bundles)))
    assert len(found) > 1000
    assert [ref for ref in found if ref not in known] == []


def test_references_are_relative_type_and_id() -> None:
    for ref in references(list(sample())):
        resource_type, _, resource_id = ref.partition("/")
        assert resource_type.isalpha() and is_fhir_id(resource_id), ref


def test_no_patient_data_without_patients() -> None:
    bundles = list(generate(0, seed=0))
    assert len(bundles) == 1
    with pytest.raises(ValueError):
        list(generate(-1))


def test_histories_stop_at_the_reference_date() -> None:
    start = date(2015, 6, 30)
    latest = ""
    for resource in resources(tuple(generate(8, seed=4, start=start))):
        for key in ("effectiveDateTime", "authoredOn", "occurrenceDateTime", "onsetDateTime", "recordedDate"):
            if key in resource:
                latest = max(latest, resource[key][:10])
        if resource["resourceType"] == "Encounter":
            latest = max(latest, resource["period"]["start"][:10])
    assert "2014" < latest <= "2015-06-30"


def test_default_reference_date_is_fixed() -> None:
    assert date(2026, 1, 1) == DEFAULT_NOW
    assert list(generate(2, seed=9)) == list(generate(2, seed=9, start=DEFAULT_NOW))
