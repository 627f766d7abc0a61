"""Everything the CapabilityStatement declares must work: every search parameter of every type answers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

SAMPLE = {"reference": "Patient/1", "string": "a", "composite": "x$2020",
          "token": "http://x|y", "date": "ge2020-01", "number": "1", "quantity": "5||mg",
          "uri": "http://example.org/x"}


async def test_every_declared_search_parameter_answers(client) -> None:
    cs = (await client.get("/fhir/metadata")).json()
    declared = 0
    failures = []
    for res in cs["rest"][0]["resource"]:
        for param in res["searchParam"]:
            value = SAMPLE.get(param["type"], "x")
            r = await client.get(f"/fhir/{res['type']}", params={param["name"]: value},
                                 headers={"Prefer": "handling=strict"})
            declared += 1
            if r.status_code != 200:
                failures.append((res["type"], param["name"], r.status_code, r.text[:200]))
    print(f"{declared} declared search parameters checked")
    assert declared > 1000
    assert failures == []


async def test_every_declared_supported_profile_is_served_and_validates_against(client) -> None:
    """supportedProfile names the UK Core profiles the server holds: each can be read as a StructureDefinition
    of that type, and `$validate` checks a resource against it (a UK Core Patient without an identifier value
    is still valid, one with a malformed NHS number is not)."""
    cs = (await client.get("/fhir/metadata")).json()
    declared = {r["type"]: r.get("supportedProfile", []) for r in cs["rest"][0]["resource"]}
    patient = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
    assert patient in declared["Patient"]
    assert sum(len(v) for t, v in declared.items() if t != "Subscription") >= 50
    for rtype, urls in declared.items():
        for url in urls if rtype != "Subscription" else ():
            found = (await client.get("/fhir/StructureDefinition", params={"url": url})).json()
            assert [e["resource"]["type"] for e in found.get("entry", [])] == [rtype], url
    bad = {"resourceType": "Patient", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                                                       "value": "1234567890"}]}
    r = await client.post("/fhir/Patient/$validate", params={"profile": patient}, json=bad)
    assert r.status_code == 200
    assert any(i["severity"] == "error" for i in r.json()["issue"])
