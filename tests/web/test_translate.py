"""ConceptMap $translate over HTTP: type and instance level, GET and POST, shipped and stored maps, both engines."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/fhir+json"}
GENDER = "http://hl7.org/fhir/administrative-gender"
V3_GENDER = "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender"


def _match_codes(body: dict) -> list[str]:
    return [p["valueCoding"]["code"] for m in body["parameter"] if m["name"] == "match"
            for p in m["part"] if p["name"] == "concept"]


async def test_translate_get_type_level(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ConceptMap/$translate", params={
        "system": GENDER, "code": "male", "target": "http://terminology.hl7.org/ValueSet/v3-AdministrativeGender"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resourceType"] == "Parameters" and body["parameter"][0] == {"name": "result", "valueBoolean": True}
    assert _match_codes(body) == ["M"]


async def test_translate_post_instance_level(client: httpx.AsyncClient) -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "coding", "valueCoding": {"system": V3_GENDER, "code": "F"}},
        {"name": "reverse", "valueBoolean": True}]}
    r = await client.post("/fhir/ConceptMap/cm-administrative-gender-v3/$translate", json=body, headers=JSON)
    assert r.status_code == 200, r.text
    assert _match_codes(r.json()) == ["female"]


async def test_translate_with_a_stored_concept_map(client: httpx.AsyncClient) -> None:
    cm = {"resourceType": "ConceptMap", "url": "http://example.org/cm/local", "status": "active", "group": [{
        "source": "http://example.org/local", "target": "http://snomed.info/sct",
        "element": [{"code": "HTN", "target": [{"code": "38341003", "equivalence": "equivalent"}]}]}]}
    created = await client.post("/fhir/ConceptMap", json=cm, headers=JSON)
    assert created.status_code == 201, created.text
    by_id = await client.get(f"/fhir/ConceptMap/{created.json()['id']}/$translate",
                             params={"system": "http://example.org/local", "code": "HTN"})
    by_url = await client.get("/fhir/ConceptMap/$translate",
                              params={"url": cm["url"], "system": "http://example.org/local", "code": "HTN"})
    assert _match_codes(by_id.json()) == _match_codes(by_url.json()) == ["38341003"]


async def test_translate_errors(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ConceptMap/$translate", params={"code": "male"})
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"
    r = await client.get("/fhir/ConceptMap/$translate", params={"url": "http://example.org/none", "system": GENDER,
                                                                 "code": "male"})
    assert r.status_code == 404
    assert r.json()["issue"][0]["expression"] == ["url"]
    r = await client.delete("/fhir/ConceptMap/$translate")
    assert r.status_code == 405


async def test_capability_statement_lists_translate(client: httpx.AsyncClient) -> None:
    meta = (await client.get("/fhir/metadata")).json()
    cm = next(r for r in meta["rest"][0]["resource"] if r["type"] == "ConceptMap")
    assert {"name": "translate", "definition": "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"} \
        in cm["operation"]
