"""StructureDefinitions over REST: the shipped UK Core profiles with their snapshots, and profiles given at run
time (POSTed, or loaded from a package folder) used by `$validate`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/fhir+json"}
UK_PATIENT = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">A patient</div>'}
PATIENT = {"resourceType": "Patient", "text": NARRATIVE, "name": [{"family": "Khan"}]}
BORN = "https://example.org/fhir/StructureDefinition/born-patient"
PROFILE = {
    "resourceType": "StructureDefinition", "id": "born-patient", "url": BORN, "name": "BornPatient",
    "status": "active", "kind": "resource", "abstract": False, "type": "Patient", "derivation": "constraint",
    "baseDefinition": UK_PATIENT,
    "differential": {"element": [{"id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1}]},
}


def _errors(body: dict) -> list[tuple[str, str]]:
    return [((i.get("expression") or [""])[0], i["diagnostics"]) for i in body["issue"] if i["severity"] == "error"]


async def test_read_a_shipped_profile_with_its_snapshot(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/StructureDefinition/UKCore-Patient")
    assert r.status_code == 200
    sd = r.json()
    assert sd["resourceType"] == "StructureDefinition" and sd["url"] == UK_PATIENT
    ids = [e["id"] for e in sd["snapshot"]["element"]]
    assert "Patient.identifier:nhsNumber.system" in ids and ids[0] == "Patient"
    nhs = next(e for e in sd["snapshot"]["element"] if e["id"] == "Patient.identifier:nhsNumber.system")
    assert nhs["fixedUri"] == "https://fhir.nhs.uk/Id/nhs-number"
    assert (await client.get("/fhir/StructureDefinition/UKCore-Nothing")).status_code == 404


async def test_search_a_shipped_profile_by_url(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/StructureDefinition", params={"url": UK_PATIENT})
    assert r.status_code == 200
    entries = r.json()["entry"]
    assert [e["resource"]["id"] for e in entries] == ["UKCore-Patient"]
    assert entries[0]["fullUrl"].endswith("/StructureDefinition/UKCore-Patient")
    ext = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
    r = await client.get("/fhir/StructureDefinition", params={"url": ext})
    assert r.json()["entry"][0]["resource"]["snapshot"]["element"][0]["id"] == "Extension"
    r = await client.get("/fhir/StructureDefinition", params={"url": "https://example.org/none"})
    assert "entry" not in r.json()


async def test_posted_profile_is_used_by_validate(client: httpx.AsyncClient) -> None:
    r = await client.post("/fhir/Patient/$validate", params={"profile": BORN}, json=PATIENT,
                          headers=JSON)
    assert [i["code"] for i in r.json()["issue"]] == ["not-supported"]  # not known yet: a warning
    created = await client.post("/fhir/StructureDefinition", json=PROFILE, headers=JSON)
    assert created.status_code == 201, created.text
    r = await client.post("/fhir/Patient/$validate", params={"profile": BORN}, json=PATIENT, headers=JSON)
    assert r.status_code == 200
    errors = _errors(r.json())
    assert [loc for loc, _ in errors] == ["Patient"]
    assert "Patient.birthDate: at least 1 required" in errors[0][1]
    r = await client.post("/fhir/Patient/$validate", params={"profile": BORN}, json={**PATIENT, "birthDate": "2001"},
                          headers=JSON)
    assert _errors(r.json()) == []
    declared = {**PATIENT, "meta": {"profile": [BORN]}}  # declared, given in a Parameters resource
    params = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": declared}]}
    r = await client.post("/fhir/Patient/$validate", json=params, headers=JSON)
    assert [loc for loc, _ in _errors(r.json())] == ["Patient"]
    r = await client.get("/fhir/StructureDefinition", params={"url": BORN})
    assert [e["resource"]["url"] for e in r.json()["entry"]] == [BORN]  # the stored one


@pytest.fixture
def package_db(tmp_path: Path) -> str:
    """A database into which `caregate load` put an npm-style package folder holding the profile."""
    from caregate.cli.main import cli

    package = tmp_path / "package"
    package.mkdir()
    (package / "package.json").write_text(json.dumps({"name": "example.profiles", "version": "0.1.0",
                                                      "fhirVersions": ["4.0.1"]}))
    (package / ".index.json").write_text(json.dumps({"index-version": 1, "files": [
        {"filename": "StructureDefinition-born-patient.json", "resourceType": "StructureDefinition"}]}))
    (package / "StructureDefinition-born-patient.json").write_text(json.dumps(PROFILE))
    url = f"sqlite:///{tmp_path}/package.db"
    result = CliRunner().invoke(cli, ["load", str(package), "--database", url])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Loaded 1 resources from 1 file")
    return url


async def test_profile_loaded_from_a_package_folder_is_used_by_validate(package_db: str) -> None:
    from caregate.app import build
    from caregate.config import Settings

    app = build(Settings.from_env(env={}, database_url=package_db, port=8080, no_auth=True), access_log=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
        r = await c.post("/fhir/Patient/$validate", params={"profile": BORN}, json=PATIENT, headers=JSON)
        assert [loc for loc, _ in _errors(r.json())] == ["Patient"]
        assert (await c.get("/fhir/StructureDefinition/born-patient")).json()["url"] == BORN
    await app.app.fhir.store.close()


async def test_writes_declaring_a_stored_profile_are_checked_against_it(database_url: str) -> None:
    from caregate.app import build
    from caregate.config import Settings

    for mode, status in (("lenient", 201), ("strict", 422)):
        settings = Settings.from_env(env={}, database_url=database_url, port=8080, no_auth=True, validation=mode)
        app = build(settings, access_log=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
            if mode == "lenient":
                assert (await c.post("/fhir/StructureDefinition", json=PROFILE, headers=JSON)).status_code == 201
            declared = {**PATIENT, "meta": {"profile": [BORN]}}
            r = await c.post("/fhir/Patient", json=declared, headers={**JSON, "Prefer": "return=OperationOutcome"})
            assert r.status_code == status, r.text
            issues = [(i["severity"], (i.get("expression") or [""])[0], i["diagnostics"]) for i in r.json()["issue"]]
            expected = "warning" if mode == "lenient" else "error"
            assert any(s == expected and loc == "Patient" and "birthDate: at least 1" in d for s, loc, d in issues)
            r = await c.post("/fhir/Patient", json={**declared, "birthDate": "2001"}, headers=JSON)
            assert r.status_code == 201
        await app.app.fhir.store.close()
