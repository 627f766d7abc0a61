"""`$validate` on type and instance, and validation of every write by the server's mode (strict, lenient, off)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

pytestmark = pytest.mark.anyio

NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Aisha Khan</div>'}
GOOD = {"resourceType": "Patient", "text": NARRATIVE, "name": [{"family": "Khan", "given": ["Aisha"]}],
        "gender": "female", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}]}
BAD = {**GOOD, "gender": "femal"}
UK_CORE = "https://example.org/StructureDefinition/NotShipped-Patient"  # a profile the server cannot resolve
JSON = {"Content-Type": "application/fhir+json"}


def _issues(body: dict) -> list[tuple[str, str, str]]:
    return [(i["severity"], i["code"], (i.get("expression") or [""])[0]) for i in body["issue"]]


async def _client(database_url: str, validation: str) -> AsyncIterator[httpx.AsyncClient]:
    from caregate.app import build
    from caregate.config import Settings

    settings = Settings.from_env(env={}, database_url=database_url, port=8080, no_auth=True, validation=validation)
    app = build(settings, access_log=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
        yield c
    await app.app.fhir.store.close()


@pytest.fixture
async def strict(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(database_url, "strict"):
        yield c


@pytest.fixture
async def off(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(database_url, "off"):
        yield c


async def test_type_validate_answers_200_with_the_issues(client: httpx.AsyncClient) -> None:
    r = await client.post("/fhir/Patient/$validate", json=BAD, headers=JSON)
    assert r.status_code == 200
    assert r.json()["resourceType"] == "OperationOutcome"
    assert ("error", "code-invalid", "Patient.gender") in _issues(r.json())


async def test_valid_resource_gets_an_informational_outcome(client: httpx.AsyncClient) -> None:
    r = await client.post("/fhir/Patient/$validate", json=GOOD, headers=JSON)
    assert r.status_code == 200
    assert [i["severity"] for i in r.json()["issue"]] == ["information"]


async def test_parameters_body_with_resource_profile_and_mode(client: httpx.AsyncClient) -> None:
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": GOOD}, {"name": "profile", "valueUri": UK_CORE},
        {"name": "mode", "valueCode": "create"}]}
    r = await client.post("/fhir/Patient/$validate", json=params, headers=JSON)
    assert r.status_code == 200
    assert _issues(r.json()) == [("warning", "not-supported", "Patient")]
    assert UK_CORE in r.json()["issue"][0]["diagnostics"]


async def test_profile_as_url_parameter(client: httpx.AsyncClient) -> None:
    r = await client.post("/fhir/Patient/$validate", params={"profile": UK_CORE}, json=GOOD, headers=JSON)
    assert _issues(r.json()) == [("warning", "not-supported", "Patient")]


async def test_wrong_type_for_the_url_is_an_issue_not_a_failure(client: httpx.AsyncClient) -> None:
    r = await client.post("/fhir/Observation/$validate", json=GOOD, headers=JSON)
    assert r.status_code == 200
    assert ("error", "invalid", "resourceType") in _issues(r.json())


async def test_instance_validate_of_the_stored_resource_and_of_a_body(client: httpx.AsyncClient) -> None:
    created = await client.post("/fhir/Patient", json=GOOD, headers=JSON)
    pid = created.json()["id"]
    r = await client.get(f"/fhir/Patient/{pid}/$validate")
    assert r.status_code == 200 and [i["severity"] for i in r.json()["issue"]] == ["information"]
    r = await client.post(f"/fhir/Patient/{pid}/$validate", params={"mode": "update"}, json={**BAD, "id": "other"},
                          headers=JSON)
    assert {("error", "invalid", "Patient.id"), ("error", "code-invalid", "Patient.gender")} <= set(_issues(r.json()))
    r = await client.post("/fhir/Patient/nobody/$validate", params={"mode": "delete"}, json=GOOD, headers=JSON)
    assert r.status_code == 404


async def test_validate_needs_a_resource(client: httpx.AsyncClient) -> None:
    r = await client.post("/fhir/Patient/$validate", json={"resourceType": "Parameters"}, headers=JSON)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"
    r = await client.post("/fhir/Patient/$validate", params={"mode": "sideways"}, json=GOOD, headers=JSON)
    assert r.status_code == 400


async def test_lenient_create_rejects_base_errors_with_their_location(client: httpx.AsyncClient) -> None:
    r = await client.post("/fhir/Patient", json={**BAD, "birthDate": "2020-02-30"}, headers=JSON)
    assert r.status_code == 422
    found = _issues(r.json())
    assert ("error", "code-invalid", "Patient.gender") in found and ("error", "value", "Patient.birthDate") in found


async def test_lenient_create_keeps_warnings_for_the_outcome(client: httpx.AsyncClient) -> None:
    declared = {**GOOD, "meta": {"profile": [UK_CORE]}}
    r = await client.post("/fhir/Patient", json=declared, headers={**JSON, "Prefer": "return=OperationOutcome"})
    assert r.status_code == 201
    assert ("warning", "not-supported", "Patient.meta.profile[0]") in _issues(r.json())


async def test_update_and_patch_are_validated(client: httpx.AsyncClient) -> None:
    pid = (await client.post("/fhir/Patient", json=GOOD, headers=JSON)).json()["id"]
    r = await client.put(f"/fhir/Patient/{pid}", json={**BAD, "id": pid}, headers=JSON)
    assert r.status_code == 422 and ("error", "code-invalid", "Patient.gender") in _issues(r.json())
    ops = [{"op": "replace", "path": "/gender", "value": "femal"}]
    r = await client.patch(f"/fhir/Patient/{pid}", json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 422 and ("error", "code-invalid", "Patient.gender") in _issues(r.json())
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["gender"] == "female"


async def test_transaction_entry_errors_point_into_the_bundle(client: httpx.AsyncClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": GOOD, "request": {"method": "POST", "url": "Patient"}},
        {"resource": BAD, "request": {"method": "POST", "url": "Patient"}}]}
    r = await client.post("/fhir", json=bundle, headers=JSON)
    assert r.status_code == 422
    assert ("error", "code-invalid", "Bundle.entry[1].resource.gender") in _issues(r.json())
    assert (await client.get("/fhir/Patient")).json().get("total", 0) == 0


async def test_strict_rejects_what_a_declared_profile_rejects(strict: httpx.AsyncClient) -> None:
    uk_core = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
    twice = {**GOOD, "identifier": GOOD["identifier"] * 2}  # UK Core allows one NHS number
    r = await strict.post("/fhir/Patient", json={**twice, "meta": {"profile": [uk_core]}}, headers=JSON)
    assert r.status_code == 422 and ("error", "structure", "Patient") in _issues(r.json())
    r = await strict.post("/fhir/Patient", json={**GOOD, "meta": {"profile": [UK_CORE]}},
                          headers={**JSON, "Prefer": "return=OperationOutcome"})
    assert r.status_code == 201  # a profile it cannot resolve is a warning: nothing failed
    assert ("warning", "not-supported", "Patient.meta.profile[0]") in _issues(r.json())


async def test_off_stores_what_lenient_would_reject(off: httpx.AsyncClient) -> None:
    r = await off.post("/fhir/Patient", json=BAD, headers=JSON)
    assert r.status_code == 201


async def test_capability_statement_declares_validate(client: httpx.AsyncClient) -> None:
    cs = (await client.get("/fhir/metadata")).json()
    patient = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Patient")
    assert {"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"} in \
        patient["operation"]
