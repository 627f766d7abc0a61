"""The terminology operations over HTTP: ValueSet $expand / $validate-code, CodeSystem $lookup /
$validate-code / $subsumes, on type and instance level, GET and POST, on both engines."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio

GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
JSON = {"Content-Type": "application/fhir+json"}


def _params(body: dict) -> dict:
    return {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in body["parameter"]
            if any(k.startswith("value") for k in p)}


def _codes(body: dict) -> list[str]:
    return [c["code"] for c in body["expansion"].get("contains", ())]


async def test_expand_by_url_lists_every_code(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS})
    assert r.status_code == 200
    body = r.json()
    assert body["resourceType"] == "ValueSet" and body["url"] == GENDER_VS
    assert body["expansion"]["total"] == 4
    assert sorted(_codes(body)) == ["female", "male", "other", "unknown"]
    assert {"system": GENDER, "code": "female", "display": "Female"} in body["expansion"]["contains"]


async def test_expand_filter_and_paging(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS, "filter": "fem"})
    assert _codes(r.json()) == ["female"]
    first = (await client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS, "count": 2})).json()
    rest = (await client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS, "count": 2, "offset": 2})).json()
    assert first["expansion"]["total"] == rest["expansion"]["total"] == 4
    assert rest["expansion"]["offset"] == 2
    assert len(_codes(first)) == 2 and set(_codes(first)).isdisjoint(_codes(rest))


async def test_expand_instance_level_by_id(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ValueSet/administrative-gender/$expand")
    assert r.status_code == 200 and r.json()["expansion"]["total"] == 4


async def test_expand_uk_core_value_set(client: httpx.AsyncClient) -> None:
    url = "https://fhir.hl7.org.uk/ValueSet/UKCore-AddressKeyType"
    r = await client.get("/fhir/ValueSet/$expand", params={"url": url})
    assert r.status_code == 200, r.text
    assert _codes(r.json()) == ["PAF", "UPRN"]


async def test_expand_is_a_filter_and_exclude_on_a_posted_value_set(client: httpx.AsyncClient) -> None:
    vs = {"resourceType": "ValueSet", "url": "http://example.org/vs/encounters", "status": "active",
          "compose": {"include": [{"system": ACT_CODE, "filter": [
              {"property": "concept", "op": "is-a", "value": "_ActEncounterCode"}]}],
              "exclude": [{"system": ACT_CODE, "concept": [{"code": "AMB"}]}]}}
    body = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": vs}]}
    r = await client.post("/fhir/ValueSet/$expand", json=body, headers=JSON)
    assert r.status_code == 200, r.text
    codes = _codes(r.json())
    assert "_ActEncounterCode" in codes and "EMER" in codes and "IMP" in codes
    assert "AMB" not in codes
    vs["compose"]["include"][0]["filter"][0]["op"] = "descendent-of"
    r = await client.post("/fhir/ValueSet/$expand", json=body, headers=JSON)
    assert "_ActEncounterCode" not in _codes(r.json()) and "EMER" in _codes(r.json())


async def test_expand_unknown_value_set_is_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ValueSet/$expand", params={"url": "http://example.org/no-such-vs"})
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    r = await client.get("/fhir/ValueSet/no-such-vs/$expand")
    assert r.status_code == 404


async def test_expand_needing_snomed_is_422_saying_so(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ValueSet/$expand", params={"url": "http://hl7.org/fhir/ValueSet/clinical-findings"})
    assert r.status_code == 422
    issue = r.json()["issue"][0]
    assert issue["code"] == "not-supported" and "SNOMED CT" in issue["diagnostics"]


async def test_expand_bad_count_is_400(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS, "count": "lots"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["count"]


async def test_value_set_validate_code(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ValueSet/$validate-code", params={"url": GENDER_VS, "system": GENDER, "code": "male"})
    assert r.status_code == 200 and _params(r.json()) == {"result": True, "display": "Male"}
    r = await client.get("/fhir/ValueSet/$validate-code", params={"url": GENDER_VS, "code": "mle"})
    assert _params(r.json())["result"] is False
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": GENDER_VS},
        {"name": "codeableConcept", "valueCodeableConcept": {"coding": [{"system": GENDER, "code": "other"}]}}]}
    r = await client.post("/fhir/ValueSet/$validate-code", json=body, headers=JSON)
    assert _params(r.json())["result"] is True


async def test_code_system_lookup(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/CodeSystem/$lookup", params={"system": ACT_CODE, "code": "AMB"})
    assert r.status_code == 200
    body = r.json()
    assert _params(body)["display"] == "ambulatory"
    parents = [p["part"][1]["valueCode"] for p in body["parameter"] if p["name"] == "property"
               and p["part"][0]["valueCode"] == "parent"]
    assert parents == ["_ActEncounterCode"]
    r = await client.get("/fhir/CodeSystem/$lookup", params={"system": ACT_CODE, "code": "NOPE"})
    assert r.status_code == 404
    r = await client.get("/fhir/CodeSystem/$lookup", params={"system": "http://snomed.info/sct", "code": "22298006"})
    assert r.status_code == 422 and "SNOMED CT" in r.json()["issue"][0]["diagnostics"]


async def test_code_system_validate_code_and_subsumes(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/CodeSystem/$validate-code", params={"url": GENDER, "code": "female"})
    assert _params(r.json())["result"] is True
    r = await client.get("/fhir/CodeSystem/administrative-gender/$validate-code", params={"code": "f"})
    assert _params(r.json())["result"] is False
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": ACT_CODE}, {"name": "codeA", "valueCode": "_ActEncounterCode"},
        {"name": "codeB", "valueCode": "AMB"}]}
    r = await client.post("/fhir/CodeSystem/$subsumes", json=body, headers=JSON)
    assert r.status_code == 200 and _params(r.json()) == {"outcome": "subsumes"}
    r = await client.get("/fhir/CodeSystem/$subsumes", params={"system": ACT_CODE, "codeA": "AMB",
                                                              "codeB": "_ActEncounterCode"})
    assert _params(r.json()) == {"outcome": "subsumed-by"}
    r = await client.get("/fhir/CodeSystem/$subsumes", params={"system": ACT_CODE, "codeA": "AMB", "codeB": "EMER"})
    assert _params(r.json()) == {"outcome": "not-subsumed"}


async def test_expand_a_stored_value_set_by_id(client: httpx.AsyncClient) -> None:
    vs = {"resourceType": "ValueSet", "status": "active", "url": "http://example.org/vs/two-genders",
          "compose": {"include": [{"system": GENDER, "concept": [{"code": "male"}, {"code": "female"}]}]}}
    created = await client.post("/fhir/ValueSet", json=vs, headers=JSON)
    assert created.status_code == 201, created.text
    r = await client.get(f"/fhir/ValueSet/{created.json()['id']}/$expand")
    assert r.status_code == 200 and _codes(r.json()) == ["male", "female"]
    assert r.json()["expansion"]["contains"][0]["display"] == "Male"
    r = await client.get("/fhir/ValueSet/$validate-code", params={"url": vs["url"], "code": "other"})
    assert r.status_code == 200 and _params(r.json())["result"] is False


async def test_capability_statement_declares_the_operations(client: httpx.AsyncClient) -> None:
    resources = {r["type"]: r for r in (await client.get("/fhir/metadata")).json()["rest"][0]["resource"]}
    assert {"expand", "validate-code"} <= {o["name"] for o in resources["ValueSet"]["operation"]}
    assert {"lookup", "validate-code", "subsumes"} <= {o["name"] for o in resources["CodeSystem"]["operation"]}
    assert "http://hl7.org/fhir/OperationDefinition/ValueSet-expand" in {
        o["definition"] for o in resources["ValueSet"]["operation"]}


async def test_token_search_in_and_not_in_a_value_set(client: httpx.AsyncClient) -> None:
    encounters = "http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"
    for i, (system, code) in enumerate([(ACT_CODE, "AMB"), (ACT_CODE, "EMER"), ("http://example.org/cls", "AMB")]):
        enc = {"resourceType": "Encounter", "id": f"e{i}", "status": "finished",
               "class": {"system": system, "code": code}}
        assert (await client.put(f"/fhir/Encounter/e{i}", json=enc, headers=JSON)).status_code == 201
    r = await client.get("/fhir/Encounter", params={"class:in": encounters})
    assert r.status_code == 200, r.text
    assert sorted(e["resource"]["id"] for e in r.json().get("entry", ())) == ["e0", "e1"]
    r = await client.get("/fhir/Encounter", params={"class:not-in": encounters})
    assert [e["resource"]["id"] for e in r.json().get("entry", ())] == ["e2"]
    r = await client.get("/fhir/Encounter", params={"status:in": "http://hl7.org/fhir/ValueSet/encounter-status"})
    assert len(r.json().get("entry", ())) == 3  # `code` elements: the system is the binding's


async def test_token_search_in_an_unusable_value_set_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/Encounter", params={"class:in": "http://example.org/no-such-vs"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["class:in"]
    r = await client.get("/fhir/Condition", params={"code:in": "http://hl7.org/fhir/ValueSet/clinical-findings"})
    assert r.status_code == 422 and "SNOMED CT" in r.json()["issue"][0]["diagnostics"]


async def test_token_search_below_and_above_a_code_in_its_hierarchy(client: httpx.AsyncClient) -> None:
    classes = [(ACT_CODE, "AMB"), (ACT_CODE, "_ActEncounterCode"), (ACT_CODE, "_ActCareProvisionCode"),
               ("http://example.org/cls", "AMB")]
    for i, (system, code) in enumerate(classes):
        enc = {"resourceType": "Encounter", "id": f"h{i}", "status": "finished",
               "class": {"system": system, "code": code}}
        assert (await client.put(f"/fhir/Encounter/h{i}", json=enc, headers=JSON)).status_code == 201

    async def ids(params: dict[str, str]) -> list[str]:
        r = await client.get("/fhir/Encounter", params=params)
        assert r.status_code == 200, r.text
        return sorted(e["resource"]["id"] for e in r.json().get("entry", ()))

    assert await ids({"class:below": f"{ACT_CODE}|_ActEncounterCode"}) == ["h0", "h1"]
    assert await ids({"class:above": f"{ACT_CODE}|AMB"}) == ["h0", "h1", "h2"]
    assert await ids({"class:above": f"{ACT_CODE}|_ActCareProvisionCode"}) == ["h2"]
    r = await client.get("/fhir/Encounter", params={"class:below": "AMB"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["class:below"]
    r = await client.get("/fhir/Condition", params={"code:below": "http://snomed.info/sct|404684003"})
    assert r.status_code == 422 and "hierarchy" in r.json()["issue"][0]["diagnostics"]


async def test_a_malformed_posted_value_set_is_400(client: httpx.AsyncClient) -> None:
    vs = {"resourceType": "ValueSet", "status": "active",
          "compose": {"include": [{"system": ACT_CODE, "concept": [{"display": "no code"}]}]}}
    body = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": vs}]}
    r = await client.post("/fhir/ValueSet/$expand", json=body, headers=JSON)
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["valueSet"]
    r = await client.post("/fhir/ValueSet/$expand", json={"resourceType": "Patient"}, headers=JSON)
    assert r.status_code == 400


async def test_expand_answers_in_xml_too(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS, "_format": "xml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+xml")
    assert '<code value="female"/>' in r.text


async def test_subsumes_across_code_systems_is_400(client: httpx.AsyncClient) -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "codingA", "valueCoding": {"system": ACT_CODE, "code": "AMB"}},
        {"name": "codingB", "valueCoding": {"system": GENDER, "code": "male"}}]}
    r = await client.post("/fhir/CodeSystem/$subsumes", json=body, headers=JSON)
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["codingB"]
