"""FHIRPath Patch over HTTP (https://hl7.org/fhir/R4/fhirpatch.html, http.html#patch): a Parameters body sent
with PATCH, in JSON and XML, and as PATCH entries of transactions and batches, on both engines; failures are
OperationOutcomes that name the parameter part."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

FHIR = "application/fhir+json"


def op(kind: str, path: str, **parts: object) -> dict:
    out: list[dict] = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name == "name":
            out.append({"name": "name", "valueString": value})
        elif name in ("index", "source", "destination"):
            out.append({"name": name, "valueInteger": value})
        else:
            out.append({"name": "value", **value})  # type: ignore[dict-item]
    return {"name": "operation", "part": out}


def parameters(*operations: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": list(operations)}


async def new_patient(client) -> str:
    body = {"resourceType": "Patient", "name": [{"family": "Khan", "given": ["Aisha"]}], "gender": "female",
            "identifier": [{"system": "urn:a", "value": "1"}, {"system": "urn:b", "value": "2"}]}
    r = await client.post("/fhir/Patient", json=body, headers={"Content-Type": FHIR})
    assert r.status_code == 201
    return r.json()["id"]


async def test_patch_with_a_parameters_body_applies_every_operation(client) -> None:
    pid = await new_patient(client)
    body = parameters(
        op("add", "Patient", name="birthDate", value={"valueDate": "1980-02-03"}),
        op("replace", "Patient.gender", value={"valueCode": "other"}),
        op("insert", "Patient.name[0].given", index=0, value={"valueString": "Zara"}),
        op("move", "Patient.identifier", source=1, destination=0),
        op("delete", "Patient.identifier.where(system = 'urn:a')"),
    )
    r = await client.patch(f"/fhir/Patient/{pid}", json=body, headers={"Content-Type": FHIR, "If-Match": 'W/"1"'})
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["meta"]["versionId"] == "2"
    assert patched["birthDate"] == "1980-02-03"
    assert patched["gender"] == "other"
    assert patched["name"][0]["given"] == ["Zara", "Aisha"]
    assert patched["identifier"] == [{"system": "urn:b", "value": "2"}]
    again = (await client.get(f"/fhir/Patient/{pid}")).json()
    assert again["birthDate"] == "1980-02-03" and again["identifier"] == patched["identifier"]
    found = (await client.get("/fhir/Patient?birthdate=1980-02-03")).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [pid]


async def test_patch_with_a_parameters_body_in_xml(client) -> None:
    pid = await new_patient(client)
    xml = ('<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="operation"/>'
           '<part><name value="type"/><valueCode value="replace"/></part>'
           '<part><name value="path"/><valueString value="Patient.name.family"/></part>'
           '<part><name value="value"/><valueString value="Patel"/></part></parameter></Parameters>')
    r = await client.patch(f"/fhir/Patient/{pid}", content=xml, headers={"Content-Type": "application/fhir+xml"})
    assert r.status_code == 200, r.text
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["name"][0]["family"] == "Patel"


@pytest.mark.parametrize(
    ("operation", "status", "expression"),
    [
        (op("replace", "Patient.telecom", value={"valueString": "x"}), 422, "Parameters.parameter[1].part[1]"),
        (op("delete", "Patient.identifier"), 422, "Parameters.parameter[1].part[1]"),
        (op("replace", "Patient.gender", value={"valueInteger": 3}), 422, "Parameters.parameter[1].part[2]"),
        (op("rename", "Patient.gender"), 400, "Parameters.parameter[1].part[0]"),
        (op("delete", "Patient.name.where("), 400, "Parameters.parameter[1].part[1]"),
    ],
)
async def test_a_failing_fhirpath_patch_is_an_operation_outcome_and_changes_nothing(
        client, operation: dict, status: int, expression: str) -> None:
    pid = await new_patient(client)
    body = parameters(op("replace", "Patient.gender", value={"valueCode": "male"}), operation)
    r = await client.patch(f"/fhir/Patient/{pid}", json=body, headers={"Content-Type": FHIR})
    assert r.status_code == status, r.text
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]
    current = (await client.get(f"/fhir/Patient/{pid}")).json()
    assert current["gender"] == "female" and current["meta"]["versionId"] == "1"


async def test_a_patch_that_would_change_the_id_is_refused(client) -> None:
    pid = await new_patient(client)
    body = parameters(op("replace", "Patient.id", value={"valueId": "other"}))
    r = await client.patch(f"/fhir/Patient/{pid}", json=body, headers={"Content-Type": FHIR})
    assert r.status_code == 400
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["id"] == pid


async def test_fhirpath_patch_entries_in_a_transaction_and_a_batch(client) -> None:
    pid = await new_patient(client)
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:3f1c0e52-7d4a-4c2b-9a51-6c1f0d1e2a10",
         "resource": {"resourceType": "Organization", "name": "Leeds Surgery"},
         "request": {"method": "POST", "url": "Organization"}},
        {"resource": parameters(op("add", "Patient", name="managingOrganization", value={"valueReference": {
            "reference": "urn:uuid:3f1c0e52-7d4a-4c2b-9a51-6c1f0d1e2a10"}})),
         "request": {"method": "PATCH", "url": f"Patient/{pid}"}},
    ]}
    r = await client.post("/fhir", json=transaction, headers={"Content-Type": FHIR})
    assert r.status_code == 200, r.text
    assert r.json()["entry"][1]["response"]["status"] == "200 OK"
    current = (await client.get(f"/fhir/Patient/{pid}")).json()
    assert current["managingOrganization"]["reference"].startswith("Organization/")

    bad = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": parameters(op("replace", "Patient.gender", value={"valueCode": "male"})),
         "request": {"method": "PATCH", "url": f"Patient/{pid}"}},
        {"resource": parameters(op("replace", "Patient.photo", value={"valueAttachment": {}})),
         "request": {"method": "PATCH", "url": f"Patient/{pid}"}},
    ]}
    r = await client.post("/fhir", json=bad, headers={"Content-Type": FHIR})
    assert r.status_code == 422
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.parameter[0].part[1]"]
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["gender"] == "female"

    batch = {**bad, "type": "batch"}
    r = await client.post("/fhir", json=batch, headers={"Content-Type": FHIR})
    assert r.status_code == 200
    statuses = [e["response"]["status"] for e in r.json()["entry"]]
    assert statuses[0] == "200 OK" and statuses[1].startswith("422")
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["gender"] == "male"


async def test_the_capability_statement_lists_fhirpath_patch(client) -> None:
    formats = (await client.get("/fhir/metadata")).json()["patchFormat"]
    assert {"application/json-patch+json", "application/fhir+json", "application/fhir+xml"} <= set(formats)
