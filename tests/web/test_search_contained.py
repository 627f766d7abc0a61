"""Contained resources in search (https://hl7.org/fhir/R4/search.html#contained), over HTTP on both engines.

The specification's own example: a MedicationRequest containing a custom Medication whose ingredient is coded
`abc`. A chain reaches into it by default; a search of Medications does not, unless `_contained` asks; and
`_containedType` chooses between the container and the contained resource alone.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

ACME = "http://acme.org/medcodes"
BASE = "http://127.0.0.1:8080/fhir"


def _request(med_code: str, med_id: str = "m1", patient: str = "Patient/p1") -> dict:
    return {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "contained": [{"resourceType": "Medication", "id": med_id,
                       "code": {"coding": [{"system": ACME, "code": med_code}]},
                       "ingredient": [{"itemCodeableConcept": {"coding": [{"system": ACME, "code": "abc"}]}}]}],
        "medicationReference": {"reference": f"#{med_id}"},
        "subject": {"reference": patient},
    }


async def _seed(client) -> dict[str, str]:
    ids = {}
    r = await client.post("/fhir/MedicationRequest", json=_request("custom-1"))
    assert r.status_code == 201
    ids["mr"] = r.json()["id"]
    top = {"resourceType": "Medication", "code": {"coding": [{"system": ACME, "code": "custom-1"}]}}
    ids["med"] = (await client.post("/fhir/Medication", json=top)).json()["id"]
    plain = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
             "medicationReference": {"reference": f"Medication/{ids['med']}"}, "subject": {"reference": "Patient/p2"}}
    ids["plain"] = (await client.post("/fhir/MedicationRequest", json=plain)).json()["id"]
    return ids


def _entries(bundle: dict, mode: str = "match") -> list[tuple[str, str, str]]:
    return sorted((e["fullUrl"], e["resource"]["resourceType"], e["resource"]["id"])
                  for e in bundle.get("entry", []) if e["search"]["mode"] == mode)


async def test_by_default_contained_resources_are_not_results(client) -> None:
    ids = await _seed(client)
    bundle = (await client.get(f"/fhir/Medication?code={ACME}|custom-1")).json()
    assert _entries(bundle) == [(f"{BASE}/Medication/{ids['med']}", "Medication", ids["med"])]
    assert bundle["total"] == 1
    assert "entry" not in (await client.get(f"/fhir/Medication?ingredient-code={ACME}|abc")).json()
    explicit = (await client.get(f"/fhir/Medication?ingredient-code={ACME}|abc&_contained=false")).json()
    assert "entry" not in explicit and explicit["total"] == 0


async def test_a_chain_is_evaluated_inside_contained_resources(client) -> None:
    ids = await _seed(client)
    bundle = (await client.get(f"/fhir/MedicationRequest?medication.ingredient-code={ACME}|abc")).json()
    assert _entries(bundle) == [(f"{BASE}/MedicationRequest/{ids['mr']}", "MedicationRequest", ids["mr"])]
    both = (await client.get(f"/fhir/MedicationRequest?medication.code={ACME}|custom-1")).json()
    assert {e[2] for e in _entries(both)} == {ids["mr"], ids["plain"]}, "contained and stored targets alike"
    typed = (await client.get(f"/fhir/MedicationRequest?medication:Medication.code={ACME}|custom-1")).json()
    assert {e[2] for e in _entries(typed)} == {ids["mr"], ids["plain"]}
    assert "entry" not in (await client.get(f"/fhir/MedicationRequest?medication.code={ACME}|nothing")).json()


async def test_contained_true_returns_the_containers(client) -> None:
    ids = await _seed(client)
    bundle = (await client.get(f"/fhir/Medication?ingredient-code={ACME}|abc&_contained=true")).json()
    assert _entries(bundle) == [(f"{BASE}/MedicationRequest/{ids['mr']}", "MedicationRequest", ids["mr"])]
    assert bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["contained"][0]["id"] == "m1", "the container whole, as stored"
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "_contained=true" in self_link
    assert not [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"], "no 'ignored' warning any more"
    only = (await client.get(f"/fhir/Medication?code={ACME}|custom-1&_contained=true")).json()
    assert [e[2] for e in _entries(only)] == [ids["mr"]], "the top-level Medication is left out under true"


async def test_contained_type_contained_returns_the_contained_resource_alone(client) -> None:
    ids = await _seed(client)
    url = f"/fhir/Medication?code={ACME}|custom-1&_contained=true&_containedType=contained"
    bundle = (await client.get(url)).json()
    assert _entries(bundle) == [(f"{BASE}/MedicationRequest/{ids['mr']}#m1", "Medication", "m1")]
    resource = bundle["entry"][0]["resource"]
    assert resource["ingredient"][0]["itemCodeableConcept"]["coding"][0]["code"] == "abc"
    assert "meta" not in resource, "a contained resource has no meta of its own (dom-4)"
    both = (await client.get(url.replace("_contained=true", "_contained=both"))).json()
    assert _entries(both) == sorted([(f"{BASE}/MedicationRequest/{ids['mr']}#m1", "Medication", "m1"),
                                     (f"{BASE}/Medication/{ids['med']}", "Medication", ids["med"])])
    assert both["total"] == 2


async def test_contained_both_returns_matches_and_containers(client) -> None:
    ids = await _seed(client)
    bundle = (await client.get(f"/fhir/Medication?code={ACME}|custom-1&_contained=both")).json()
    assert _entries(bundle) == sorted([(f"{BASE}/MedicationRequest/{ids['mr']}", "MedicationRequest", ids["mr"]),
                                       (f"{BASE}/Medication/{ids['med']}", "Medication", ids["med"])])
    count = (await client.get(f"/fhir/Medication?code={ACME}|custom-1&_contained=both&_summary=count")).json()
    assert count["total"] == 2


async def test_contained_rows_follow_updates_and_deletes(client) -> None:
    ids = await _seed(client)
    url = f"/fhir/Medication?ingredient-code={ACME}|abc&_contained=true&_containedType=contained"
    changed = _request("custom-1", med_id="m9")
    changed["id"] = ids["mr"]
    changed["contained"][0]["ingredient"][0]["itemCodeableConcept"]["coding"][0]["code"] = "xyz"
    assert (await client.put(f"/fhir/MedicationRequest/{ids['mr']}", json=changed)).status_code == 200
    assert "entry" not in (await client.get(url)).json(), "the old contained version is gone"
    found = (await client.get(url.replace("|abc", "|xyz"))).json()
    assert _entries(found) == [(f"{BASE}/MedicationRequest/{ids['mr']}#m9", "Medication", "m9")]
    assert (await client.delete(f"/fhir/MedicationRequest/{ids['mr']}")).status_code in (200, 204)
    assert "entry" not in (await client.get(url.replace("|abc", "|xyz"))).json()
    chained = (await client.get(f"/fhir/MedicationRequest?medication.ingredient-code={ACME}|xyz")).json()
    assert "entry" not in chained


async def test_paging_through_contained_results(client) -> None:
    made = set()
    for i in range(5):
        r = await client.post("/fhir/MedicationRequest", json=_request(f"c{i}", med_id=f"m{i}"))
        made.add(f"{BASE}/MedicationRequest/{r.json()['id']}#m{i}")
    seen: list[str] = []
    url = f"/fhir/Medication?ingredient-code={ACME}|abc&_contained=true&_containedType=contained&_count=2"
    while url:
        bundle = (await client.get(url)).json()
        seen += [e["fullUrl"] for e in bundle.get("entry", [])]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0].replace("http://127.0.0.1:8080", "") if nxt else ""
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == made
    sorted_ids = (await client.get(f"/fhir/Medication?ingredient-code={ACME}|abc&_contained=true"
                                   "&_containedType=contained&_sort=-code")).json()
    assert [e["resource"]["id"] for e in sorted_ids["entry"]] == ["m4", "m3", "m2", "m1", "m0"]


async def test_contained_patient_in_a_chain_and_include(client) -> None:
    """A chain through a contained Patient (search.html#contained), and `_include` from contained results."""
    org = (await client.post("/fhir/Organization", json={"resourceType": "Organization", "name": "Leeds GP"})).json()
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
           "contained": [{"resourceType": "Patient", "id": "pt", "name": [{"family": "Taylor"}],
                          "managingOrganization": {"reference": f"Organization/{org['id']}"}}],
           "subject": {"reference": "#pt"}}
    obs_id = (await client.post("/fhir/Observation", json=obs)).json()["id"]
    bundle = (await client.get("/fhir/Observation?subject:Patient.name=taylor")).json()
    assert [e[2] for e in _entries(bundle)] == [obs_id]
    assert "entry" not in (await client.get("/fhir/Observation?subject.name=smith")).json()
    included = (await client.get("/fhir/Patient?name=taylor&_contained=true&_containedType=contained"
                                 "&_include=Patient:organization")).json()
    assert _entries(included) == [(f"{BASE}/Observation/{obs_id}#pt", "Patient", "pt")]
    assert [e[2] for e in _entries(included, "include")] == [org["id"]]


@pytest.mark.parametrize("query", ["_contained=yes", "_containedType=both", "_contained="])
async def test_bad_values_are_a_400_naming_the_parameter(client, query: str) -> None:
    r = await client.get(f"/fhir/Medication?{query}")
    assert r.status_code == 400
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [query.split("=")[0]]
