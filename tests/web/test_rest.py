"""The REST interactions as a FHIR client sees them, through the real ASGI app, on both engines."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

FHIR = "application/fhir+json"


def patient(family: str = "Smith", given: str = "Ann", nhs: str = "9000000009", **extra: object) -> dict:
    return {"resourceType": "Patient",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}],
            "name": [{"family": family, "given": [given]}], "gender": "female", "birthDate": "1980-05-17",
            **extra}


async def test_create_read_update_delete(client) -> None:
    r = await client.post("/fhir/Patient", json=patient(), headers={"Content-Type": FHIR})
    assert r.status_code == 201
    body = r.json()
    pid = body["id"]
    assert body["meta"]["versionId"] == "1"
    assert r.headers["location"].endswith(f"/fhir/Patient/{pid}/_history/1")
    assert r.headers["etag"] == 'W/"1"'
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert "last-modified" in r.headers

    r = await client.get(f"/fhir/Patient/{pid}")
    assert r.status_code == 200
    assert r.json()["name"][0]["family"] == "Smith"

    updated = {**body, "name": [{"family": "Jones", "given": ["Ann"]}]}
    r = await client.put(f"/fhir/Patient/{pid}", json=updated)
    assert r.status_code == 200
    assert r.json()["meta"]["versionId"] == "2"

    r = await client.get(f"/fhir/Patient/{pid}/_history/1")
    assert r.json()["name"][0]["family"] == "Smith"

    r = await client.delete(f"/fhir/Patient/{pid}")
    assert r.status_code == 204
    r = await client.get(f"/fhir/Patient/{pid}")
    assert r.status_code == 410
    assert r.json()["resourceType"] == "OperationOutcome"

    r = await client.get(f"/fhir/Patient/{pid}/_history")
    bundle = r.json()
    assert bundle["type"] == "history"
    assert [e["request"]["method"] for e in bundle["entry"]] == ["DELETE", "PUT", "POST"]


async def test_create_on_update_with_client_id(client) -> None:
    r = await client.put("/fhir/Patient/abc-1", json={**patient(), "id": "abc-1"})
    assert r.status_code == 201
    r = await client.get("/fhir/Patient/abc-1")
    assert r.status_code == 200


async def test_server_assigns_id_on_create(client) -> None:
    r = await client.post("/fhir/Patient", json={**patient(), "id": "mine"})
    assert r.status_code == 201
    assert r.json()["id"] != "mine"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "where"),
    [
        ("GET", "/fhir/Patient/does-not-exist", None, 404, None),
        ("GET", "/fhir/NotAType/1", None, 404, None),
        ("GET", "/fhir/Patient/bad_id!", None, 400, None),
        ("POST", "/fhir/Patient", b"{not json", 400, None),
        ("POST", "/fhir/Patient", b"[]", 400, None),
        ("POST", "/fhir/Patient", b'{"resourceType": "Observation"}', 400, "resourceType"),
        ("PUT", "/fhir/Patient/a1", b'{"resourceType": "Patient", "id": "b2"}', 400, "Patient.id"),
        ("PUT", "/fhir/Patient/a1", b'{"resourceType": "Patient"}', 400, "Patient.id"),
        ("POST", "/fhir/Patient/a1", b'{"resourceType": "Patient"}', 405, None),
        ("GET", "/fhir/Patient?birthdate=notadate", None, 400, "birthdate"),
        ("GET", "/fhir/Patient?_count=many", None, 400, "_count"),
        ("GET", "/fhir/Patient/x/_history/abc", None, 400, None),
    ],
)
async def test_bad_input_gets_an_operation_outcome(client, method, path, body, status, where) -> None:
    r = await client.request(method, path, content=body, headers={"Content-Type": FHIR} if body else {})
    assert r.status_code == status
    oo = r.json()
    assert oo["resourceType"] == "OperationOutcome"
    issue = oo["issue"][0]
    assert issue["severity"] == "error"
    assert issue["diagnostics"]
    if where:
        assert where in issue["expression"][0]


async def test_xml_in_and_out(client) -> None:
    xml = (b'<Patient xmlns="http://hl7.org/fhir"><name><family value="Owusu"/><given value="Ama"/></name>'
           b'<birthDate value="1990-01-02"/></Patient>')
    r = await client.post("/fhir/Patient", content=xml, headers={"Content-Type": "application/fhir+xml"})
    assert r.status_code == 201
    pid = r.json()["id"]
    assert r.json()["name"][0]["family"] == "Owusu"
    r = await client.get(f"/fhir/Patient/{pid}", headers={"Accept": "application/fhir+xml"})
    assert r.headers["content-type"].startswith("application/fhir+xml")
    assert b'<family value="Owusu"/>' in r.content
    r = await client.get(f"/fhir/Patient/{pid}?_format=xml")
    assert r.content.startswith(b"<?xml")
    bundle = await client.get("/fhir/Patient?family=owusu&_format=xml")
    assert b"<Bundle" in bundle.content and b"Owusu" in bundle.content
    bad = await client.post("/fhir/Patient", content=b"<Patient xmlns='http://hl7.org/fhir'><nope/></Patient>",
                            headers={"Content-Type": "application/fhir+xml"})
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["diagnostics"].startswith("The body is not valid FHIR XML")
    err = await client.get("/fhir/Patient/missing", headers={"Accept": "application/fhir+xml"})
    assert err.status_code == 404 and b"<OperationOutcome" in err.content


async def test_unsupported_formats_are_refused_clearly(client) -> None:
    r = await client.get("/fhir/metadata", headers={"Accept": "text/csv"})
    assert r.status_code == 406
    r = await client.post("/fhir/Patient", content=b"a,b", headers={"Content-Type": "text/csv"})
    assert r.status_code == 415


async def test_decimal_precision_from_xml_is_kept(client) -> None:
    xml = (b'<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="t"/></code>'
           b'<valueQuantity><value value="1.50"/><unit value="mg"/></valueQuantity></Observation>')
    r = await client.post("/fhir/Observation", content=xml, headers={"Content-Type": "application/fhir+xml"})
    assert r.status_code == 201
    assert b'"value":1.50' in r.content


async def test_if_match_optimistic_locking(client) -> None:
    created = (await client.post("/fhir/Patient", json=patient())).json()
    pid = created["id"]
    ok = await client.put(f"/fhir/Patient/{pid}", json=created, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200
    stale = await client.put(f"/fhir/Patient/{pid}", json=created, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["meta"]["versionId"] == "2"


async def test_prefer_return(client) -> None:
    r = await client.post("/fhir/Patient", json=patient(), headers={"Prefer": "return=minimal"})
    assert r.status_code == 201
    assert r.content == b""
    assert "location" in r.headers
    r = await client.post("/fhir/Patient", json=patient(), headers={"Prefer": "return=OperationOutcome"})
    assert r.json()["resourceType"] == "OperationOutcome"


async def test_conditional_create_update_delete(client) -> None:
    crit = "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000017"
    first = await client.post("/fhir/Patient", json=patient(nhs="9000000017"), headers={"If-None-Exist": crit})
    assert first.status_code == 201
    again = await client.post("/fhir/Patient", json=patient(nhs="9000000017"), headers={"If-None-Exist": crit})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]

    r = await client.put(f"/fhir/Patient?{crit}", json=patient(family="Brown", nhs="9000000017"))
    assert r.status_code == 200
    assert r.json()["id"] == first.json()["id"]
    assert r.json()["name"][0]["family"] == "Brown"

    await client.post("/fhir/Patient", json=patient(family="Brown", nhs="9000000025"))
    several = await client.delete("/fhir/Patient?family=Brown")
    assert several.status_code == 412
    r = await client.delete(f"/fhir/Patient?{crit}")
    assert r.status_code == 204
    assert (await client.get(f"/fhir/Patient/{first.json()['id']}")).status_code == 410


async def test_json_patch(client) -> None:
    pid = (await client.post("/fhir/Patient", json=patient())).json()["id"]
    ops = [{"op": "replace", "path": "/gender", "value": "male"}, {"op": "add", "path": "/active", "value": True}]
    r = await client.patch(f"/fhir/Patient/{pid}", json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200
    assert r.json()["gender"] == "male"
    assert r.json()["active"] is True
    bad = [{"op": "test", "path": "/gender", "value": "female"}]
    r = await client.patch(f"/fhir/Patient/{pid}", json=bad, headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 422
    assert "test failed" in r.json()["issue"][0]["diagnostics"]


async def test_operations_endpoints(client) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    await client.get("/fhir/Patient/x")
    metrics = (await client.get("/metrics")).text
    assert 'caregate_http_requests_total{method="GET",route="/fhir/{type}/{id}",status="404"} 1' in metrics


async def test_capability_statement_declares_what_works(client) -> None:
    cs = (await client.get("/fhir/metadata")).json()
    assert cs["fhirVersion"] == "4.0.1"
    assert cs["kind"] == "instance"
    types = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert {"Patient", "Observation", "Encounter", "Bundle"} <= set(types)
    params = {p["name"]: p["type"] for p in types["Patient"]["searchParam"]}
    assert params["family"] == "string"
    assert params["identifier"] == "token"
    assert params["general-practitioner"] == "reference"
    assert params["birthdate"] == "date"


async def test_nul_character_is_refused_on_every_engine(client) -> None:
    r = await client.post("/fhir/Patient", json=patient(family="Sm\u0000ith"))
    assert r.status_code == 422
    assert "U+0000" in r.json()["issue"][0]["diagnostics"]
    r = await client.post("/fhir/Patient", json=patient(family="back\\u0000slash"))
    assert r.status_code == 201


async def test_capability_statement_declares_includes(client) -> None:
    cs = (await client.get("/fhir/metadata")).json()
    types = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert "Observation:subject" in types["Observation"]["searchInclude"]
    assert "Observation:subject" in types["Patient"]["searchRevInclude"]
    for include in types["Observation"]["searchInclude"][:5]:
        r = await client.get("/fhir/Observation", params={"_include": include})
        assert r.status_code == 200, include
