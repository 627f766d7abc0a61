"""Restricted patients with real tokens on both engines: a Patient labelled R (PDS "R" style) has address, telecom
and GP removed, and the REDACTED label added, for roles that may not see them, on read, vread, search,
includes, history and in XML; the patient, a backend service, break-glass and a role the policy allows see all."""

from __future__ import annotations

from pathlib import Path

import pytest

from caregate.interactions.context import RequestContext
from caregate.interactions.redact import redact
from caregate.policy import Actor
from caregate.policy.rules import CONFIDENTIALITY, default_policy, load_policy
from caregate.storage.base import Stored
from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio
WITHHELD = ("address", "telecom", "generalPractitioner")
CAROL = {"resourceType": "Patient", "id": "carol", "meta": {"security": [{"system": CONFIDENTIALITY, "code": "R"}]},
         "name": [{"family": "Cole"}], "gender": "female",
         "address": [{"line": ["1 Hidden Lane"], "city": "Leeds"}], "telecom": [{"system": "phone", "value": "0113"}],
         "generalPractitioner": [{"reference": "Practitioner/drwho"}]}
CAROL_OBS = {"resourceType": "Observation", "id": "c1", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
             "subject": {"reference": "Patient/carol"}}


async def _setup(secured: Secured) -> dict[str, str]:  # noqa: F811
    writer = secured.headers("system/*.cruds")
    for resource in (CAROL, CAROL_OBS):
        r = await secured.client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource,
                                     headers=writer)
        assert r.status_code == 201, r.text
    secured.auth.users.add("doctor", PASSWORD, practitioner="drwho", org="A81001", roles=("R8000",))
    secured.auth.users.add("carol-user", PASSWORD, patient="carol")
    return secured.headers("user/*.rs", user="doctor")


def _redacted(patient: dict) -> bool:
    codes = [c["code"] for c in patient["meta"]["security"]]
    assert patient["name"] == CAROL["name"] and patient["gender"] == "female"
    if "REDACTED" in codes:
        assert not any(k in patient for k in WITHHELD) and "R" in codes
        return True
    assert all(patient[k] == CAROL[k] for k in WITHHELD)
    return False


def _patients(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == "Patient"]


async def test_a_restricted_patient_is_redacted_on_every_route(secured: Secured) -> None:  # noqa: F811
    doctor = await _setup(secured)
    get = secured.client.get
    r = await get("/fhir/Patient/carol", headers=doctor)
    assert r.status_code == 200 and _redacted(r.json())
    assert _redacted((await get("/fhir/Patient/carol/_history/1", headers=doctor)).json())
    for path in ("/fhir/Patient?_id=carol", "/fhir/Patient?family=Cole&_elements=name,address,gender",
                 "/fhir/Observation?subject=Patient/carol&_include=Observation:subject",
                 "/fhir/Patient/carol/_history", "/fhir/Patient/_history"):
        r = await get(path, headers=doctor)
        assert r.status_code == 200, (path, r.text)
        found = _patients(r.json())
        assert found and all(_redacted(p) for p in found if p["id"] == "carol"), path
    r = await get("/fhir/Patient/carol", headers={**doctor, "Accept": "application/fhir+xml"})
    assert r.status_code == 200 and "REDACTED" in r.text and "Hidden Lane" not in r.text


async def test_who_sees_a_restricted_patient_whole(secured: Secured, tmp_path: Path) -> None:  # noqa: F811
    doctor = await _setup(secured)
    get = secured.client.get
    assert not _redacted((await get("/fhir/Patient/carol", headers=secured.headers("system/*.rs"))).json())
    own = secured.headers("patient/*.rs", user="carol-user")
    assert not _redacted((await get("/fhir/Patient/carol", headers=own)).json())
    glass = {**doctor, "X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": "collapsed at home"}
    assert not _redacted((await get("/fhir/Patient/carol", headers=glass)).json())
    path = tmp_path / "site.toml"
    path.write_text("[roles.R8000]\nresources = { '*' = ['read', 'search'] }\npurposes = ['TREAT']\nlabels = ['R']\n"
                    "[labels.R]\nredact = { Patient = ['address', 'telecom', 'generalPractitioner'] }\n")
    secured.app.app.fhir.policy = load_policy(path)
    assert not _redacted((await get("/fhir/Patient/carol", headers=doctor)).json())


async def test_a_policy_names_other_elements_to_redact(secured: Secured, tmp_path: Path) -> None:  # noqa: F811
    doctor = await _setup(secured)
    path = tmp_path / "site.toml"
    path.write_text("[roles.R8000]\nresources = { '*' = ['read', 'search'] }\npurposes = ['TREAT']\n"
                    "[labels.R]\nredact = { Patient = ['gender'] }\n")
    secured.app.app.fhir.policy = load_policy(path)
    patient = (await secured.client.get("/fhir/Patient/carol", headers=doctor)).json()
    assert "gender" not in patient and patient["address"] == CAROL["address"]
    assert "REDACTED" in [c["code"] for c in patient["meta"]["security"]]


def test_unlabelled_json_passes_untouched() -> None:
    ctx = RequestContext(None, None, "", actor=Actor.from_scope_string("d", "app", "user/*.rs",  # type: ignore[arg-type]
                                                                        fhir_user="Practitioner/1", roles=("R8000",)),
                         policy=default_policy())
    plain = Stored("Patient", "p", 1, "2024-01-01T00:00:00Z", False, b'{"resourceType":"Patient","id":"p"}')
    assert redact(ctx, plain) is plain


async def test_a_redacting_label_withholds_resources_of_other_types(secured: Secured) -> None:  # noqa: F811
    doctor = await _setup(secured)
    restricted = {**CAROL_OBS, "id": "c2", "meta": {"security": [{"system": CONFIDENTIALITY, "code": "R"}]}}
    assert (await secured.client.put("/fhir/Observation/c2", json=restricted,
                                     headers=secured.headers("system/*.cruds"))).status_code == 201
    assert (await secured.client.get("/fhir/Observation/c2", headers=doctor)).status_code == 404
    r = await secured.client.get("/fhir/Observation?subject=Patient/carol&_include=Observation:subject",
                                 headers=doctor)
    assert r.json()["total"] == 1
    assert sorted(e["resource"]["id"] for e in r.json()["entry"]) == ["c1", "carol"]
    backend = secured.headers("system/*.rs")
    assert (await secured.client.get("/fhir/Observation/c2", headers=backend)).status_code == 200
