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
