"""`caregate load` as a user runs it: problems on stderr with FILE:LINE, a final count, the exit status."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from caregate.cli.main import cli
from tests.bulkload.conftest import NPI, encounter, practitioner, write_ndjson


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


def test_unresolvable_reference_fails_its_record_and_the_exit_status(tmp_path: Path, db_url: str) -> None:
    f = write_ndjson(
        tmp_path / "Encounter.ndjson",
        encounter("e1", "Practitioner/known"),
        encounter("e2", f"Practitioner?identifier={NPI}|0000000000"),
        encounter("e3", f"Practitioner?identifier={NPI}|42"),
    )
    g = write_ndjson(tmp_path / "Practitioner.ndjson", practitioner("42", "known"))

    result = CliRunner().invoke(cli, ["load", str(f), str(g), "--database", db_url])

    assert result.exit_code == 1
    assert f"{f}:2: Encounter/e2: the conditional reference" in result.stderr
    assert "matches no resource" in result.stderr
    assert result.stdout.startswith("Loaded 3 resources from 2 files; 1 failed")


def test_clean_load_exits_zero_and_a_second_load_counts_the_same(tmp_path: Path, db_url: str) -> None:
    f = write_ndjson(tmp_path / "Practitioner.ndjson.gz", practitioner("1", "a"), practitioner("2", "b"))
    runner = CliRunner()

    first = runner.invoke(cli, ["load", str(f), "--database", db_url])
    second = runner.invoke(cli, ["load", str(f), "--database", db_url])

    assert first.exit_code == second.exit_code == 0
    assert first.stdout.startswith("Loaded 2 resources from 1 file; 0 failed")
    assert second.stdout.startswith("Loaded 2 resources from 1 file; 0 failed")
    assert first.stderr == ""


def test_bad_json_line_is_reported_and_the_rest_load(tmp_path: Path, db_url: str) -> None:
    f = write_ndjson(tmp_path / "p.ndjson", practitioner("1", "a"), "{oops", practitioner("2", "b"))

    result = CliRunner().invoke(cli, ["load", str(f), "--database", db_url])

    assert result.exit_code == 1
    assert f"{f}:2: not valid JSON" in result.stderr
    assert result.stdout.startswith("Loaded 2 resources from 1 file; 1 failed")


def test_missing_file_is_a_usage_error(tmp_path: Path, db_url: str) -> None:
    result = CliRunner().invoke(cli, ["load", str(tmp_path / "nope.ndjson"), "--database", db_url])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
