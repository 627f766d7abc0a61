"""Conditional references in a load resolve against every file, in any order, and the store."""

from __future__ import annotations

from pathlib import Path

import orjson

from caregate.bulkload import Problem, load_files
from caregate.storage import ResourceStore
from tests.bulkload.conftest import NPI, count, encounter, practitioner, read, write_ndjson


def performer(store: ResourceStore, encounter_id: str) -> str:
    """The reference an encounter stored by the load makes to its practitioner."""
    stored = read(store, "Encounter", encounter_id)
    assert stored is not None
    return stored["participant"][0]["individual"]["reference"]


def test_reference_to_a_practitioner_in_a_later_file(store, tmp_path: Path) -> None:
    first = write_ndjson(tmp_path / "Encounter.ndjson", encounter("e1", f"Practitioner?identifier={NPI}|9999"))
    later = write_ndjson(tmp_path / "Practitioner.ndjson", practitioner("9999", "doc-1"))

    summary = load_files(store, [first, later])

    assert (summary.loaded, summary.failed) == (2, 0)
    assert performer(store, "e1") == "Practitioner/doc-1"


def test_target_without_an_id_gets_one_that_the_reference_uses(store, tmp_path: Path) -> None:
    enc = write_ndjson(tmp_path / "a.ndjson", encounter("e1", f"Practitioner?identifier={NPI}|1234"))
    prac = write_ndjson(tmp_path / "b.ndjson.gz", practitioner("1234"))

    assert load_files(store, [enc, prac]).failed == 0

    ref = performer(store, "e1")
    type_, _, id_ = ref.partition("/")
    target = read(store, type_, id_)
    assert target is not None
    assert target["identifier"] == [{"system": NPI, "value": "1234"}]


def test_identifier_without_system_matches_any_system(store, tmp_path: Path) -> None:
    f = write_ndjson(tmp_path / "x.ndjson", encounter("e1", "Practitioner?identifier=4321"),
                     practitioner("4321", "doc-2"))
    assert load_files(store, [f]).failed == 0
    assert performer(store, "e1") == "Practitioner/doc-2"


def test_reference_to_a_resource_already_in_the_store(store, tmp_path: Path) -> None:
    load_files(store, [write_ndjson(tmp_path / "p.ndjson", practitioner("777", "doc-7"))])

    later = write_ndjson(tmp_path / "e.ndjson", encounter("e7", f"Practitioner?identifier={NPI}|777"))
    summary = load_files(store, [later])

    assert summary.failed == 0
    assert performer(store, "e7") == "Practitioner/doc-7"


def test_unmatched_and_ambiguous_references_fail_only_their_records(store, tmp_path: Path) -> None:
    f = write_ndjson(
        tmp_path / "mixed.ndjson",
        practitioner("1", "twin-a"),
        practitioner("1", "twin-b"),
        encounter("ok", "Practitioner/twin-a"),
        encounter("nobody", f"Practitioner?identifier={NPI}|does-not-exist"),
        encounter("ambiguous", f"Practitioner?identifier={NPI}|1"),
    )
    problems: list[Problem] = []

    summary = load_files(store, [f], report=problems.append)

    assert (summary.loaded, summary.failed) == (3, 2)
    assert [(p.file, p.line) for p in problems] == [(str(f), 4), (str(f), 5)]
    assert "matches no resource" in problems[0].message
    assert "matches 2 resources" in problems[1].message
    assert read(store, "Encounter", "ok") is not None
    assert read(store, "Encounter", "nobody") is None
    assert read(store, "Encounter", "ambiguous") is None


def test_transaction_bundle_points_at_a_practitioner_created_by_a_later_transaction(store, tmp_path: Path) -> None:
    """Synthea's own layout, loaded in the wrong order: a patient bundle, then the practitioner bundle
    whose entry is a POST with ifNoneExist (so the practitioner's id is only decided by the load)."""
    patient_bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "PUT", "url": "Encounter/enc-1"},
         "resource": encounter("enc-1", f"Practitioner?identifier={NPI}|5555")},
    ]}
    practitioner_bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:doc", "resource": practitioner("5555"),
         "request": {"method": "POST", "url": "Practitioner", "ifNoneExist": f"identifier={NPI}|5555"}},
    ]}
    (tmp_path / "patient.json").write_bytes(orjson.dumps(patient_bundle, option=orjson.OPT_INDENT_2))
    (tmp_path / "practitioners.json").write_bytes(orjson.dumps(practitioner_bundle))

    summary = load_files(store, [tmp_path / "patient.json", tmp_path / "practitioners.json"])

    assert (summary.loaded, summary.failed) == (2, 0)
    ref = performer(store, "enc-1")
    assert ref.startswith("Practitioner/")
    target = read(store, "Practitioner", ref.split("/")[1])
    assert target is not None
    assert target["identifier"][0]["value"] == "5555"

    # Loaded again: ifNoneExist now finds that practitioner, and the reference still points at it.
    assert load_files(store, [tmp_path / "practitioners.json", tmp_path / "patient.json"]).failed == 0
    assert performer(store, "enc-1") == ref
    assert count(store, "Practitioner") == 1


def test_reference_to_the_target_of_a_conditional_put_in_a_later_bundle(store, tmp_path: Path) -> None:
    enc = write_ndjson(tmp_path / "enc.ndjson", encounter("e9", f"Practitioner?identifier={NPI}|9090"))
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": practitioner("9090", "own-id"),
         "request": {"method": "PUT", "url": f"Practitioner?identifier={NPI}|9090"}},
    ]}
    later = write_ndjson(tmp_path / "bundle.ndjson", bundle)

    summary = load_files(store, [enc, later])

    assert (summary.loaded, summary.failed) == (2, 0)
    assert performer(store, "e9") == "Practitioner/own-id"
    assert read(store, "Practitioner", "own-id") is not None
