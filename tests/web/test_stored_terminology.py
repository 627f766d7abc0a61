"""CodeSystems, ValueSets and ConceptMaps stored on the server take part in the terminology operations and in
validation bindings, over the shipped content, from the next request after they are written; both engines."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from caregate.fhir.terminology.content import use_stored
from caregate.interactions import stored_terminology

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _forget_stored_layer() -> Iterator[None]:
    """What these tests store must not outlive them in the process-wide terminology layer."""
    yield
    use_stored([])
    stored_terminology._LAYER.store = None

JSON = {"Content-Type": "application/fhir+json"}
CS = "http://example.org/fhir/CodeSystem/clinic-codes"
VS = "http://example.org/fhir/ValueSet/clinic-infections"
REASON_VS = "http://hl7.org/fhir/ValueSet/encounter-reason"  # shipped, but needs SNOMED CT


def _code_system(*extra: dict) -> dict:
    return {"resourceType": "CodeSystem", "url": CS, "status": "active", "content": "complete", "concept": [
        {"code": "INF", "display": "Infection", "concept": [
            {"code": "UTI", "display": "Urinary tract infection"},
            {"code": "RTI", "display": "Respiratory tract infection"}, *extra]},
        {"code": "INJ", "display": "Injury"}]}


def _coded_issues(body: dict) -> list[tuple[str, str, list[str]]]:
    return [(i["severity"], i["code"], i.get("expression", [])) for i in body["issue"]
            if i["code"] in ("code-invalid", "not-supported")]


def _params(body: dict) -> dict:
    return {p["name"]: next((v for k, v in p.items() if k.startswith("value")), None) for p in body["parameter"]}


async def test_posted_code_system_and_value_set_are_used(client: httpx.AsyncClient) -> None:
    assert (await client.post("/fhir/CodeSystem", json=_code_system(), headers=JSON)).status_code == 201
    vs = {"resourceType": "ValueSet", "url": VS, "status": "active", "compose": {"include": [
        {"system": CS, "filter": [{"property": "concept", "op": "is-a", "value": "INF"}]}]}}
    assert (await client.post("/fhir/ValueSet", json=vs, headers=JSON)).status_code == 201

    r = await client.get("/fhir/ValueSet/$expand", params={"url": VS})
    assert r.status_code == 200, r.text
    assert [c["code"] for c in r.json()["expansion"]["contains"]] == ["INF", "UTI", "RTI"]
    r = await client.get("/fhir/ValueSet/$validate-code", params={"url": VS, "system": CS, "code": "UTI"})
    assert _params(r.json()) == {"result": True, "display": "Urinary tract infection"}
    r = await client.get("/fhir/ValueSet/$validate-code", params={"url": VS, "system": CS, "code": "INJ"})
    assert _params(r.json())["result"] is False
    r = await client.get("/fhir/CodeSystem/$lookup", params={"system": CS, "code": "RTI"})
    assert r.status_code == 200 and {"name": "property", "part": [{"name": "code", "valueCode": "parent"},
                                                                  {"name": "value", "valueCode": "INF"}]} \
        in r.json()["parameter"]
    r = await client.get("/fhir/CodeSystem/$subsumes", params={"system": CS, "codeA": "INF", "codeB": "UTI"})
    assert _params(r.json()) == {"outcome": "subsumes"}


async def test_an_update_counts_from_the_next_request(client: httpx.AsyncClient) -> None:
    created = await client.post("/fhir/CodeSystem", json=_code_system(), headers=JSON)
    vs = {"resourceType": "ValueSet", "url": VS, "status": "active", "compose": {"include": [{"system": CS}]}}
    await client.post("/fhir/ValueSet", json=vs, headers=JSON)
    before = await client.get("/fhir/ValueSet/$expand", params={"url": VS})
    assert before.json()["expansion"]["total"] == 4
    cs_id = created.json()["id"]
    update = {**_code_system({"code": "SSI", "display": "Surgical site infection"}), "id": cs_id}
    assert (await client.put(f"/fhir/CodeSystem/{cs_id}", json=update, headers=JSON)).status_code == 200
    after = await client.get("/fhir/ValueSet/$expand", params={"url": VS, "filter": "surgical"})
    assert [c["code"] for c in after.json()["expansion"]["contains"]] == ["SSI"]


async def test_a_stored_value_set_over_a_shipped_one_drives_validation(client: httpx.AsyncClient) -> None:
    enc = {"resourceType": "Encounter", "status": "finished",
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
           "reasonCode": [{"coding": [{"system": CS, "code": "UTI"}]}]}
    r = await client.post("/fhir/Encounter/$validate", json=enc, headers=JSON)
    assert _coded_issues(r.json()) == [("warning", "not-supported", ["Encounter.reasonCode[0]"])]  # SNOMED CT
    await client.post("/fhir/CodeSystem", json=_code_system(), headers=JSON)
    local = {"resourceType": "ValueSet", "url": REASON_VS, "status": "active", "compose": {"include": [
        {"system": CS, "filter": [{"property": "concept", "op": "is-a", "value": "INF"}]}]}}
    assert (await client.post("/fhir/ValueSet", json=local, headers=JSON)).status_code == 201
    r = await client.post("/fhir/Encounter/$validate", json=enc, headers=JSON)
    assert _coded_issues(r.json()) == []
    enc["reasonCode"][0]["coding"][0]["code"] = "INJ"
    r = await client.post("/fhir/Encounter/$validate", json=enc, headers=JSON)
    assert _coded_issues(r.json()) == [("warning", "code-invalid", ["Encounter.reasonCode[0]"])]


async def test_writes_are_validated_against_a_stored_value_set_at_once(client: httpx.AsyncClient) -> None:
    gender = {"resourceType": "ValueSet", "url": "http://hl7.org/fhir/ValueSet/administrative-gender",
              "status": "active", "compose": {"include": [{"system": "http://hl7.org/fhir/administrative-gender",
                                                           "concept": [{"code": "female"}, {"code": "male"}]}]}}
    assert (await client.post("/fhir/ValueSet", json=gender, headers=JSON)).status_code == 201
    r = await client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "other"}, headers=JSON)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Patient.gender"]
    r = await client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"}, headers=JSON)
    assert r.status_code == 201
