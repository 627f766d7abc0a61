"""What a load accepts (NDJSON, gzip, JSON resources and Bundles) and how it reports bad records."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from caregate.bulkload import Problem, load_files
from caregate.errors import FhirError
from tests.bulkload.conftest import count, read, write_ndjson


def patient(id_: str | None = None, family: str = "Smith") -> dict:
    out: dict = {"resourceType": "Patient", "name": [{"family": family}]}
    if id_ is not None:
        out["id"] = id_
    return out


def test_bad_lines_are_reported_with_their_line_and_the_rest_load(store, tmp_path: Path) -> None:
    f = write_ndjson(
        tmp_path / "Patient.ndjson",
        patient("a"),
        '{"resourceType": "Patient", "id": "broken"',  # line 2: cut short
        "",  # line 3: blank lines are skipped, but counted
        '["not", "an", "object"]',
        '{"id": "no-type"}',
        '{"resourceType": "Patiant", "id": "typo"}',
        patient("b"),
    )
    problems: list[Problem] = []

    summary = load_files(store, [f], report=problems.append)

    assert (summary.loaded, summary.failed) == (2, 4)
    assert [p.line for p in problems] == [2, 4, 5, 6]
    assert all(p.file == str(f) for p in problems)
    assert "not valid JSON" in problems[0].message
    assert "'Patiant' is not a FHIR R4 resource type" in problems[3].message
    assert str(problems[0]).startswith(f"{f}:2: ")
    assert read(store, "Patient", "a") is not None
    assert read(store, "Patient", "b") is not None


def test_loading_the_same_files_twice_keeps_the_ids(store, tmp_path: Path) -> None:
    f = write_ndjson(tmp_path / "p.ndjson.gz", *(patient(f"p{i}") for i in range(25)))

    first = load_files(store, [f])
    second = load_files(store, [f])

    assert first.loaded == second.loaded == 25
    assert count(store, "Patient") == 25


def test_resources_without_an_id_get_a_new_one(store, tmp_path: Path) -> None:
    f = write_ndjson(tmp_path / "p.ndjson", patient(), patient())
    assert load_files(store, [f]).loaded == 2
    assert count(store, "Patient") == 2


def test_transaction_bundle_file(store, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "BP"},
                      "subject": {"reference": "urn:uuid:1"}},
         "request": {"method": "PUT", "url": "Observation/o1"}},
    ]}
    f = tmp_path / "txn.json"
    f.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))

    summary = load_files(store, [f])

    assert (summary.loaded, summary.failed) == (2, 0)
    subject = read(store, "Observation", "o1")["subject"]["reference"]  # type: ignore[index]
    assert subject.startswith("Patient/")
    assert read(store, "Patient", subject.split("/")[1]) is not None


def test_failed_transaction_is_reported_and_nothing_of_it_is_stored(store, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient("t1"), "request": {"method": "PUT", "url": "Patient/t1"}},
        {"resource": patient("t2"), "request": {"method": "PUT", "url": "Patient/t2", "ifMatch": 'W/"7"'}},
    ]}
    f = write_ndjson(tmp_path / "bundles.ndjson", patient("before"), bundle)
    problems: list[Problem] = []

    summary = load_files(store, [f], report=problems.append)

    assert (summary.loaded, summary.failed) == (1, 1)
    assert problems[0].line == 2
    assert read(store, "Patient", "t1") is None


def test_batch_bundle_reports_only_its_failed_entry(store, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": patient("b1"), "request": {"method": "PUT", "url": "Patient/b1"}},
        {"resource": patient("b2"), "request": {"method": "PUT", "url": "Patient/b2", "ifMatch": 'W/"7"'}},
        {"resource": patient("b3"), "request": {"method": "PUT", "url": "Patient/b3"}},
    ]}
    f = tmp_path / "batch.json"
    f.write_bytes(orjson.dumps(bundle))
    problems: list[Problem] = []

    summary = load_files(store, [f], report=problems.append)

    assert (summary.loaded, summary.failed) == (2, 1)
    assert problems[0].message.startswith("Bundle.entry[1]: 412")
    assert read(store, "Patient", "b3") is not None


def test_collection_bundle_file_with_placeholder_full_urls(store, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:8c2f", "resource": patient()},
        {"fullUrl": "http://example.org/fhir/Observation/o2",
         "resource": {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "HR"},
                      "subject": {"reference": "urn:uuid:8c2f"}}},
    ]}
    f = tmp_path / "collection.json.gz"
    f.write_bytes(gzip.compress(orjson.dumps(bundle, option=orjson.OPT_INDENT_2)))

    summary = load_files(store, [f])

    assert (summary.loaded, summary.failed) == (2, 0)
    subject = read(store, "Observation", "o2")["subject"]["reference"]  # type: ignore[index]
    assert read(store, "Patient", subject.split("/")[1]) is not None


def test_pretty_printed_resource_and_folder_arguments(store, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "one.json").write_bytes(orjson.dumps(patient("pretty"), option=orjson.OPT_INDENT_2))
    write_ndjson(folder / "more.ndjson", patient("n1"), patient("n2"))
    (folder / "notes.txt").write_text("not loaded")

    summary = load_files(store, [folder])

    assert (summary.files, summary.loaded, summary.failed) == (2, 3, 0)


def test_broken_json_document_reports_the_line_of_the_error(store, tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text('{\n  "resourceType": "Patient",\n  "id": "x",,\n}\n')
    problems: list[Problem] = []

    assert load_files(store, [f], report=problems.append).failed == 1
    assert problems[0].line == 3


class _FailingStore:
    """A store whose writes fail whenever a given id is among them, as a database rejecting one row."""

    def __init__(self, inner: object, bad_id: str) -> None:
        self.inner, self.bad_id, self.calls = inner, bad_id, 0

    def transact_sync(self, writes):
        self.calls += 1
        if any(w.id == self.bad_id for w in writes):
            raise FhirError("invalid", "rejected by the database")
        return self.inner.transact_sync(writes)  # type: ignore[attr-defined]

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_failed_batch_is_retried_one_by_one(store, tmp_path: Path) -> None:
    f = write_ndjson(tmp_path / "p.ndjson", *(patient(f"p{i}") for i in range(10)))
    failing = _FailingStore(store, "p6")
    problems: list[Problem] = []

    summary = load_files(failing, [f], report=problems.append, batch_size=4)  # type: ignore[arg-type]

    assert (summary.loaded, summary.failed) == (9, 1)
    assert str(problems[0]) == f"{f}:7: Patient/p6: rejected by the database"
    assert count(store, "Patient") == 9


def test_truncated_gzip_file_is_reported_and_what_came_before_is_kept(store, tmp_path: Path) -> None:
    whole = gzip.compress(b"".join(orjson.dumps(patient(f"g{i}")) + b"\n" for i in range(2000)))
    f = tmp_path / "cut.ndjson.gz"
    f.write_bytes(whole[: len(whole) // 2])
    problems: list[Problem] = []

    summary = load_files(store, [f], report=problems.append)

    assert summary.failed == 1
    assert "cannot read the file further" in problems[0].message
    assert 0 < summary.loaded < 2000
    assert problems[0].line == summary.loaded + 1
