"""batch and transaction Bundles through the ASGI app on both engines."""

from __future__ import annotations

import pytest

from tests.web.test_rest import patient

pytestmark = pytest.mark.anyio


def _txn(*entries: dict, kind: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


async def test_transaction_resolves_urn_uuid_references(client) -> None:
    bundle = _txn(
        {"fullUrl": "urn:uuid:obs-1", "resource": {
            "resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": "urn:uuid:pat-1"}}, "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:pat-1", "resource": patient(), "request": {"method": "POST", "url": "Patient"}},
    )
    r = await client.post("/fhir", json=bundle)
    assert r.status_code == 200
    out = r.json()
    assert out["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    obs_loc, pat_loc = (e["response"]["location"] for e in out["entry"])
    obs = (await client.get("/fhir/" + obs_loc.split("/_history")[0])).json()
    assert obs["subject"]["reference"] == pat_loc.split("/_history")[0]


async def test_transaction_is_atomic(client) -> None:
    await client.put("/fhir/Patient/keep", json={**patient(), "id": "keep"})
    bundle = _txn(
        {"resource": {**patient(family="Changed"), "id": "keep"}, "request": {"method": "PUT", "url": "Patient/keep"}},
        {"resource": {**patient(), "id": "other"}, "request": {"method": "PUT", "url": "Patient/other",
                                                             "ifMatch": 'W/"9"'}},
    )
    r = await client.post("/fhir", json=bundle)
    assert r.status_code == 412
    assert (await client.get("/fhir/Patient/keep")).json()["name"][0]["family"] == "Smith"
    assert (await client.get("/fhir/Patient/other")).status_code == 404


async def test_conditional_entries_and_conditional_references(client) -> None:
    org = {"resourceType": "Organization", "name": "Leeds GP",
           "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "B86001"}]}
    await client.post("/fhir/Organization", json=org)
    bundle = _txn(
        {"resource": org, "request": {"method": "POST", "url": "Organization",
                                      "ifNoneExist": "identifier=https://fhir.nhs.uk/Id/ods-organization-code|B86001"}},
        {"resource": patient(generalPractitioner=[{
            "reference": "Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|B86001"}]),
         "request": {"method": "POST", "url": "Patient"}},
    )
    out = (await client.post("/fhir", json=bundle)).json()
    assert out["entry"][0]["response"]["status"] == "200 OK"
    pat = out["entry"][1]["resource"]
    org_id = out["entry"][0]["resource"]["id"]
    assert pat["generalPractitioner"][0]["reference"] == f"Organization/{org_id}"
    orgs = (await client.get("/fhir/Organization?_summary=count")).json()
    assert orgs["total"] == 1


async def test_batch_reports_each_entry(client) -> None:
    bundle = _txn(
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"resource": {"resourceType": "Patient", "id": "x"}, "request": {"method": "PUT", "url": "Patient/y"}},
        kind="batch",
    )
    out = (await client.post("/fhir", json=bundle)).json()
    assert out["type"] == "batch-response"
    assert [e["response"]["status"][:3] for e in out["entry"]] == ["201", "404", "400"]
    assert out["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"


async def test_bundle_errors_are_clear(client) -> None:
    r = await client.post("/fhir", json={"resourceType": "Bundle", "type": "collection"})
    assert r.status_code == 400
    r = await client.post("/fhir", json=_txn({"request": {"method": "FETCH", "url": "Patient"}}))
    assert r.status_code == 422
    assert "Bundle.entry[0]" in r.json()["issue"][0]["diagnostics"]
