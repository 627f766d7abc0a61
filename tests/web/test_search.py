"""Search in its default forms (issue scope: foundation), through the ASGI app on both engines."""

from __future__ import annotations

import pytest

from tests.web.test_rest import patient

pytestmark = pytest.mark.anyio


async def _seed(client) -> dict[str, str]:
    ids = {}
    for fam, given, nhs, birth in [("Smith", "Ann", "9000000009", "1980-05-17"),
                                   ("Smythe", "Bob", "9000000017", "1975-01-02"),
                                   ("Jones", "Cáit", "9000000025", "2001-11-30")]:
        r = await client.post("/fhir/Patient", json=patient(fam, given, nhs, birthDate=birth))
        ids[fam] = r.json()["id"]
    obs = {"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
           "subject": {"reference": f"Patient/{ids['Smith']}"}, "effectiveDateTime": "2024-03-04T10:15:00Z",
           "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}
    r = await client.post("/fhir/Observation", json=obs)
    ids["obs"] = r.json()["id"]
    return ids


def _ids(bundle: dict) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"}


async def test_string_token_date_reference(client) -> None:
    ids = await _seed(client)
    get = lambda q: client.get(f"/fhir/{q}")  # noqa: E731
    assert _ids((await get("Patient?family=sm")).json()) == {ids["Smith"], ids["Smythe"]}
    assert _ids((await get("Patient?given=cait")).json()) == {ids["Jones"]}, "accents and case are ignored"
    assert _ids((await get("Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000017")).json()) == {
        ids["Smythe"]}
    assert _ids((await get("Patient?identifier=9000000017")).json()) == {ids["Smythe"]}
    assert _ids((await get("Patient?identifier=http://other|9000000017")).json()) == set()
    assert _ids((await get("Patient?birthdate=1980")).json()) == {ids["Smith"]}
    assert _ids((await get("Patient?birthdate=1980-05")).json()) == {ids["Smith"]}
    assert _ids((await get("Patient?birthdate=ge1980-01-01")).json()) == {ids["Smith"], ids["Jones"]}
    assert _ids((await get("Patient?birthdate=lt1980")).json()) == {ids["Smythe"]}
    assert _ids((await get(f"Observation?subject=Patient/{ids['Smith']}")).json()) == {ids["obs"]}
    assert _ids((await get(f"Observation?patient={ids['Smith']}")).json()) == {ids["obs"]}
    assert _ids((await get("Observation?code=http://loinc.org|8867-4")).json()) == {ids["obs"]}
    assert _ids((await get("Observation?date=2024-03-04")).json()) == {ids["obs"]}
    assert _ids((await get("Observation?date=2024-03-05")).json()) == set()
    assert _ids((await get(f"Patient?_id={ids['Smith']},{ids['Jones']}")).json()) == {ids["Smith"], ids["Jones"]}


async def test_and_or_and_total(client) -> None:
    ids = await _seed(client)
    bundle = (await client.get("/fhir/Patient?family=sm,jones&gender=female")).json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 3
    assert _ids(bundle) == {ids["Smith"], ids["Smythe"], ids["Jones"]}
    count = (await client.get("/fhir/Patient?_summary=count")).json()
    assert count["total"] == 3
    assert "entry" not in count


async def test_paging_reaches_everything_once(client) -> None:
    for i in range(7):
        await client.post("/fhir/Patient", json=patient(f"Page{i}"))
    seen: list[str] = []
    url = "/fhir/Patient?_count=3"
    pages = 0
    while url:
        bundle = (await client.get(url)).json()
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0].replace("http://127.0.0.1:8080", "") if nxt else ""
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert bundle["total"] == 7


async def test_unknown_parameter_lenient_and_strict(client) -> None:
    await _seed(client)
    bundle = (await client.get("/fhir/Patient?family=smith&nonsense=1")).json()
    outcome = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "nonsense" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "nonsense" not in self_link
    r = await client.get("/fhir/Patient?nonsense=1", headers={"Prefer": "handling=strict"})
    assert r.status_code == 400


async def test_post_search_and_system_search(client) -> None:
    ids = await _seed(client)
    r = await client.post("/fhir/Patient/_search", data={"family": "jones"})
    assert _ids(r.json()) == {ids["Jones"]}
    r = await client.get("/fhir?_type=Observation")
    assert _ids(r.json()) == {ids["obs"]}


async def test_deleted_resources_leave_search(client) -> None:
    ids = await _seed(client)
    await client.delete(f"/fhir/Patient/{ids['Smith']}")
    assert _ids((await client.get("/fhir/Patient?family=smith")).json()) == set()


async def test_canonical_reference_with_version(client) -> None:
    vs = {"resourceType": "Questionnaire", "status": "active", "url": "http://example.org/q"}
    await client.put("/fhir/Questionnaire/q1", json={**vs, "id": "q1"})
    qr = {"resourceType": "QuestionnaireResponse", "status": "completed",
          "questionnaire": "http://example.org/Questionnaire/q|2.0"}
    rid = (await client.post("/fhir/QuestionnaireResponse", json=qr)).json()["id"]
    found = (await client.get("/fhir/QuestionnaireResponse?questionnaire=http://example.org/Questionnaire/q|2.0")).json()
    assert _ids(found) == {rid}
    other = (await client.get("/fhir/QuestionnaireResponse?questionnaire=http://example.org/Questionnaire/q|1.0")).json()
    assert _ids(other) == set()
    anyv = (await client.get("/fhir/QuestionnaireResponse?questionnaire=http://example.org/Questionnaire/q")).json()
    assert _ids(anyv) == {rid}


async def test_chaining_and_reverse_chaining(client) -> None:
    org = {"resourceType": "Organization", "id": "gp1", "name": "Meadow Lane Surgery"}
    await client.put("/fhir/Organization/gp1", json=org)
    ids = await _seed(client)
    smith = (await client.get(f"/fhir/Patient/{ids['Smith']}")).json()
    smith["generalPractitioner"] = [{"reference": "Organization/gp1"}]
    await client.put(f"/fhir/Patient/{ids['Smith']}", json=smith)
    get = lambda q: client.get(f"/fhir/{q}")  # noqa: E731
    assert _ids((await get("Observation?subject:Patient.family=smith")).json()) == {ids["obs"]}
    assert _ids((await get("Observation?subject.family=smith")).json()) == {ids["obs"]}
    assert _ids((await get("Observation?subject:Patient.family=jones")).json()) == set()
    deep = "Observation?subject:Patient.general-practitioner:Organization.name=meadow"
    assert _ids((await get(deep)).json()) == {ids["obs"]}
    assert _ids((await get("Patient?_has:Observation:patient:code=8867-4")).json()) == {ids["Smith"]}
    assert _ids((await get("Patient?_has:Observation:patient:code=0000-0")).json()) == set()
    nested = "Organization?_has:Patient:general-practitioner:_has:Observation:patient:code=8867-4"
    assert _ids((await get(nested)).json()) == {"gp1"}
    bad = await get("Observation?code.name=x")
    assert bad.status_code == 400


async def test_include_revinclude_iterate(client) -> None:
    await client.put("/fhir/Organization/gp1", json={"resourceType": "Organization", "id": "gp1", "name": "GP"})
    ids = await _seed(client)
    smith = (await client.get(f"/fhir/Patient/{ids['Smith']}")).json()
    smith["generalPractitioner"] = [{"reference": "Organization/gp1"}]
    await client.put(f"/fhir/Patient/{ids['Smith']}", json=smith)

    def modes(bundle: dict) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for e in bundle.get("entry", []):
            out.setdefault(e["search"]["mode"], set()).add(f"{e['resource']['resourceType']}/{e['resource'].get('id')}")
        return out

    b = (await client.get("/fhir/Observation?_include=Observation:subject")).json()
    assert modes(b) == {"match": {f"Observation/{ids['obs']}"}, "include": {f"Patient/{ids['Smith']}"}}
    b = (await client.get("/fhir/Observation?_include=Observation:subject&_include:iterate=Patient:general-practitioner"
                          )).json()
    assert modes(b)["include"] == {f"Patient/{ids['Smith']}", "Organization/gp1"}
    b = (await client.get("/fhir/Observation?_include=Observation:*")).json()
    assert f"Patient/{ids['Smith']}" in modes(b)["include"]
    b = (await client.get(f"/fhir/Patient?_id={ids['Smith']}&_revinclude=Observation:subject")).json()
    assert modes(b) == {"match": {f"Patient/{ids['Smith']}"}, "include": {f"Observation/{ids['obs']}"}}
    bad = await client.get("/fhir/Observation?_include=Observation:nonsense")
    assert bad.status_code == 400


async def test_sort_and_summary_and_elements(client) -> None:
    ids = await _seed(client)
    b = (await client.get("/fhir/Patient?_sort=birthdate")).json()
    assert [e["resource"]["id"] for e in b["entry"]] == [ids["Smythe"], ids["Smith"], ids["Jones"]]
    b = (await client.get("/fhir/Patient?_sort=-birthdate&_count=2")).json()
    assert [e["resource"]["id"] for e in b["entry"]] == [ids["Jones"], ids["Smith"]]
    nxt = next(link["url"] for link in b["link"] if link["relation"] == "next").replace("http://127.0.0.1:8080", "")
    b2 = (await client.get(nxt)).json()
    assert [e["resource"]["id"] for e in b2["entry"]] == [ids["Smythe"]]
    b = (await client.get("/fhir/Patient?_sort=family,-_id")).json()
    assert [e["resource"]["name"][0]["family"] for e in b["entry"]] == ["Jones", "Smith", "Smythe"]
    b = (await client.get("/fhir/Patient?_elements=birthDate&family=jones")).json()
    res = b["entry"][0]["resource"]
    assert set(res) == {"resourceType", "id", "meta", "birthDate"}
    assert any(t["code"] == "SUBSETTED" for t in res["meta"]["tag"])
    b = (await client.get("/fhir/Patient?_summary=true&family=jones")).json()
    res = b["entry"][0]["resource"]
    assert "name" in res and "birthDate" in res
    b = (await client.get("/fhir/Patient?_total=none")).json()
    assert "total" not in b


async def test_patient_compartment_search(client) -> None:
    ids = await _seed(client)
    b = (await client.get(f"/fhir/Patient/{ids['Smith']}/Observation?code=8867-4")).json()
    assert _ids(b) == {ids["obs"]}
    self_link = next(link["url"] for link in b["link"] if link["relation"] == "self")
    assert f"/Patient/{ids['Smith']}/Observation" in self_link
    assert _ids((await client.get(f"/fhir/Patient/{ids['Jones']}/Observation")).json()) == set()
    assert _ids((await client.get(f"/fhir/Patient/{ids['Jones']}/Patient")).json()) == {ids["Jones"]}
    r = await client.get(f"/fhir/Patient/{ids['Jones']}/Organization")
    assert r.status_code == 404


async def test_escaped_separators_in_values(client) -> None:
    pid = (await client.post("/fhir/Patient", json={"resourceType": "Patient", "identifier": [
        {"system": "http://example.org/ids", "value": "a|b,c"}]})).json()["id"]
    r = await client.get("/fhir/Patient", params={"identifier": "http://example.org/ids|a\\|b\\,c"})
    assert _ids(r.json()) == {pid}
    r = await client.get("/fhir/Patient", params={"identifier": "a\\|b\\,c"})
    assert _ids(r.json()) == {pid}


async def test_quantity_in_commensurable_units_of_type_and_reference_identifier(client) -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "dose"},
           "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}},
           "valueQuantity": {"value": 0.0054, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}}
    oid = (await client.post("/fhir/Observation", json=obs)).json()["id"]
    get = lambda q: client.get(f"/fhir/{q}")  # noqa: E731
    assert _ids((await get("Observation?value-quantity=5.4|http://unitsofmeasure.org|mg")).json()) == {oid}
    assert _ids((await get("Observation?value-quantity=gt4|http://unitsofmeasure.org|mg")).json()) == {oid}
    assert _ids((await get("Observation?value-quantity=lt5|http://unitsofmeasure.org|mg")).json()) == set()
    assert _ids((await get("Observation?value-quantity=0.0054||g")).json()) == {oid}
    ident = "Observation?subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"
    assert _ids((await get(ident)).json()) == {oid}
    pat = {"resourceType": "Patient", "identifier": [{"type": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "system": "urn:h", "value": "77"}]}
    pid = (await client.post("/fhir/Patient", json=pat)).json()["id"]
    of_type = "Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|77"
    assert _ids((await get(of_type)).json()) == {pid}
    assert _ids((await get(of_type.replace("|MR|", "|NI|"))).json()) == set()


async def test_text_content_and_list(client) -> None:
    ids = await _seed(client)
    narrative = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Known <b>asthmatic</b>, "
                                               "uses a blue inhaler</div>"}
    pid = (await client.post("/fhir/Patient", json=patient("Ellis", text=narrative))).json()["id"]
    get = lambda q: client.get(f"/fhir/{q}")  # noqa: E731
    assert _ids((await get("Patient?_text=asthmatic")).json()) == {pid}
    assert _ids((await get("Patient?_text=blue inhaler")).json()) == {pid}
    assert _ids((await get("Patient?_text=red inhaler")).json()) == set()
    assert _ids((await get("Patient?_content=caít")).json()) == {ids["Jones"]}
    assert _ids((await get("Patient?_content=9000000017")).json()) == {ids["Smythe"]}
    await client.put(f"/fhir/Patient/{pid}", json={**patient("Ellis"), "id": pid})
    assert _ids((await get("Patient?_text=asthmatic")).json()) == set(), "the old narrative left the index"
    lst = {"resourceType": "List", "status": "current", "mode": "working",
           "entry": [{"item": {"reference": f"Patient/{ids['Smith']}"}}, {"item": {"reference": f"Patient/{pid}"}}]}
    lid = (await client.post("/fhir/List", json=lst)).json()["id"]
    assert _ids((await get(f"Patient?_list={lid}")).json()) == {ids["Smith"], pid}
    assert _ids((await get(f"Patient?_list={lid}&family=ellis")).json()) == {pid}


async def test_paging_links_expire_cleanly(client) -> None:
    import base64

    import orjson

    for i in range(3):
        await client.post("/fhir/Patient", json=patient(f"Exp{i}"))
    bundle = (await client.get("/fhir/Patient?_count=1")).json()
    nxt = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    token = nxt.split("_cursor=")[1]
    data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    data["x"] = 1  # long past
    stale = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()
    r = await client.get(f"/fhir/Patient?_count=1&_cursor={stale}")
    assert r.status_code == 410
    assert "expired" in r.json()["issue"][0]["diagnostics"]
    r = await client.get("/fhir/Patient?_count=1&_cursor=not-a-cursor")
    assert r.status_code == 400


async def test_composite_parameters_hold_on_one_element(client) -> None:
    def bp(systolic: float, diastolic: float) -> dict:
        def comp(code: str, value: float) -> dict:
            return {"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                    "valueQuantity": {"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                                      "code": "mm[Hg]"}}
        return {"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                "component": [comp("8480-6", systolic), comp("8462-4", diastolic)]}

    high = (await client.post("/fhir/Observation", json=bp(150, 95))).json()["id"]
    normal = (await client.post("/fhir/Observation", json=bp(118, 76))).json()["id"]
    get = lambda q: client.get(f"/fhir/{q}")  # noqa: E731
    q = "Observation?component-code-value-quantity=http://loinc.org|8480-6$gt140"
    assert _ids((await get(q)).json()) == {high}
    q = "Observation?component-code-value-quantity=http://loinc.org|8462-4$lt80"
    assert _ids((await get(q)).json()) == {normal}
    # 95 belongs to the diastolic component, so systolic > 90 must not be satisfied by it alone
    q = "Observation?component-code-value-quantity=http://loinc.org|8480-6$gt90,http://loinc.org|8480-6$lt100"
    assert _ids((await get(q)).json()) == {high, normal}
    q = "Observation?component-code-value-quantity=http://loinc.org|8480-6$lt100"
    assert _ids((await get(q)).json()) == set()
    bad = await get("Observation?component-code-value-quantity=8480-6")
    assert bad.status_code == 400
