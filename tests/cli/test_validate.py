"""`caregate validate FILE... [--profile URL]`: issues per resource, exit status 1 when any has an error."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from click.testing import CliRunner

from caregate.cli.main import cli

NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
GOOD = {"resourceType": "Patient", "text": NARRATIVE, "gender": "female"}


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_valid_file_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "good.json"
    path.write_bytes(orjson.dumps(GOOD))
    code, out, err = _run(str(path))
    assert code == 0 and out == "" and "1 resource(s) checked, 0 with errors" in err


def test_errors_are_listed_with_location_and_exit_one(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(orjson.dumps({**GOOD, "gender": "femal", "birthDate": "2001-02-29"}))
    code, out, _ = _run(str(path))
    assert code == 1
    assert f"{path}: error value Patient.birthDate: " in out
    assert f"{path}: error code-invalid Patient.gender: " in out


def test_ndjson_lines_xml_and_unreadable_files(tmp_path: Path) -> None:
    ndjson = tmp_path / "many.ndjson"
    ndjson.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "gender": 1}) + "\n")
    xml = tmp_path / "p.xml"
    xml.write_text('<Patient xmlns="http://hl7.org/fhir"><gender value="female"/></Patient>')
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    code, out, err = _run(str(ndjson), str(xml), str(broken))
    assert code == 1
    assert f"{ndjson}:2: error structure Patient.gender" in out
    assert f"{xml}: warning invariant Patient: Constraint dom-6" in out
    assert f"{broken}: error: not JSON" in err
    assert "3 resource(s) checked, 2 with errors" in err


def test_profile_option_and_json_output(tmp_path: Path) -> None:
    path = tmp_path / "good.json"
    path.write_bytes(orjson.dumps(GOOD))
    code, out, _ = _run("--json", "--profile", "https://example.org/StructureDefinition/x", str(path))
    assert code == 0
    outcome = json.loads(out)
    assert outcome["resourceType"] == "OperationOutcome"
    assert [i["severity"] for i in outcome["issue"]] == ["warning"]
