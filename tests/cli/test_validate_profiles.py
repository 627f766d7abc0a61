"""`caregate validate --profile URL` against a shipped UK Core profile, and a declared one."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from caregate.cli.main import cli

UK_PATIENT = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
NHS = {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
TWICE = {"resourceType": "Patient", "text": NARRATIVE, "identifier": [NHS, NHS]}


def test_profile_option_checks_the_uk_core_profile(tmp_path: Path) -> None:
    path = tmp_path / "patient.json"
    path.write_bytes(orjson.dumps(TWICE))
    plain = CliRunner().invoke(cli, ["validate", str(path)])
    assert plain.exit_code == 0
    result = CliRunner().invoke(cli, ["validate", "--profile", UK_PATIENT, str(path)])
    assert result.exit_code == 1
    assert (f"{path}: error structure Patient: Patient.identifier:nhsNumber: at most 1 allowed, but found 2. "
            f"(profile {UK_PATIENT})") in result.stdout


def test_declared_profile_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "patient.json"
    path.write_bytes(orjson.dumps({**TWICE, "meta": {"profile": [UK_PATIENT]}}))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1 and "identifier:nhsNumber" in result.stdout
