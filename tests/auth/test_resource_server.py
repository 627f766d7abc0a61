"""The resource server with authentication on: bearer tokens, RFC 6750 errors, scopes and patient confinement."""

from __future__ import annotations

import pytest

from tests.auth.conftest import Secured

pytestmark = pytest.mark.anyio


def _ids(bundle: dict) -> set[str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
            if e.get("search", {}).get("mode") != "outcome"}


async def test_metadata_and_smart_discovery_need_no_token(secured: Secured) -> None:
    assert (await secured.client.get("/fhir/metadata")).status_code == 200


async def test_no_token_is_401_with_a_bearer_challenge(secured: Secured) -> None:
    r = await secured.client.get("/fhir/Patient/alice")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "error=" not in r.headers["www-authenticate"]
    assert r.json()["resourceType"] == "OperationOutcome"


async def test_garbage_token_is_invalid_token(secured: Secured) -> None:
    r = await secured.client.get("/fhir/Patient/alice", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert r.json()["issue"][0]["code"] == "login"


async def test_user_scope_reads_anything_of_its_types(secured: Secured) -> None:
    h = secured.headers("user/Patient.rs user/Observation.rs")
    assert (await secured.client.get("/fhir/Patient/bob", headers=h)).status_code == 200
    bundle = (await secured.client.get("/fhir/Observation", headers=h)).json()
    assert _ids(bundle) == {"Observation/a1", "Observation/a2", "Observation/b1", "Observation/b2"}


async def test_type_never_granted_is_403_insufficient_scope(secured: Secured) -> None:
    h = secured.headers("user/Observation.rs")
    r = await secured.client.get("/fhir/Condition/bc", headers=h)
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    assert r.json()["issue"][0]["code"] == "forbidden"
    r = await secured.client.post("/fhir/Observation", headers=h, json={
        "resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    assert r.status_code == 403


async def test_patient_scope_reads_own_and_404s_others(secured: Secured) -> None:
    h = secured.headers("patient/*.rs", patient="alice")
    assert (await secured.client.get("/fhir/Patient/alice", headers=h)).status_code == 200
    assert (await secured.client.get("/fhir/Observation/a1", headers=h)).status_code == 200
    for path in ("/fhir/Patient/bob", "/fhir/Observation/b1", "/fhir/Condition/bc", "/fhir/Observation/b1/_history/1",
                 "/fhir/Observation/b1/_history", "/fhir/Practitioner/drwho"):
        r = await secured.client.get(path, headers=h)
        assert r.status_code == 404, path
        absent = await secured.client.get(path.replace("/bob", "/nobody").replace("/b1", "/nobody")
                                          .replace("/bc", "/nobody").replace("/drwho", "/nobody"), headers=h)
        assert absent.status_code == 404
        assert r.text.replace(path.split("/")[3], "nobody") == absent.text  # not even a hint it exists


@pytest.mark.parametrize("query", [
    "Observation", "Observation?_total=accurate", "Observation?subject=Patient/bob",
    "Observation?subject:Patient.name=Brown", "Patient?_has:Observation:subject:code=8867-4",
    "Patient?_revinclude=Observation:subject", "Observation?_include=Observation:subject",
    "Observation?_include=Observation:performer", "Patient?_revinclude=List:subject",
    "Observation?_list=bl", "Patient/bob/Observation", "Observation?_summary=count",
    "?_type=Observation,Patient", "Observation/_history", "_history", "Condition?_total=accurate",
    "Observation?performer:Practitioner.name=Who&_revinclude=Observation:performer",
])
async def test_patient_scope_search_never_reaches_another_patient(secured: Secured, query: str) -> None:
    h = secured.headers("patient/*.rs", patient="alice")
    r = await secured.client.get(f"/fhir/{query}", headers=h)
    assert r.status_code == 200, r.text
    bundle = r.json()
    reached = _ids(bundle)
    assert all(x in {"Patient/alice", "Observation/a1", "Observation/a2"} for x in reached), reached
    assert "bob" not in r.text.lower().replace("subject=patient/bob", "").replace("patient/bob/observation", "")
    assert bundle.get("total", 0) <= 3


async def test_patient_scope_counts_only_own(secured: Secured) -> None:
    h = secured.headers("patient/Observation.rs", patient="alice")
    bundle = (await secured.client.get("/fhir/Observation?_total=accurate&_count=1", headers=h)).json()
    assert bundle["total"] == 2
    bundle = (await secured.client.get("/fhir/Observation?_summary=count", headers=h)).json()
    assert bundle["total"] == 2


async def test_scope_query_constraint_narrows_reads_and_searches(secured: Secured) -> None:
    h = secured.headers("patient/Observation.rs?category=laboratory", patient="alice")
    bundle = (await secured.client.get("/fhir/Observation", headers=h)).json()
    assert _ids(bundle) == {"Observation/a2"}
    assert (await secured.client.get("/fhir/Observation/a1", headers=h)).status_code == 404
    assert (await secured.client.get("/fhir/Observation/a2", headers=h)).status_code == 200


async def test_patient_scope_writes_stay_in_the_compartment(secured: Secured) -> None:
    h = secured.headers("patient/Observation.cruds", patient="alice")
    own = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
           "subject": {"reference": "Patient/alice"}}
    r = await secured.client.post("/fhir/Observation", headers=h, json=own)
    assert r.status_code == 201
    other = {**own, "subject": {"reference": "Patient/bob"}}
    assert (await secured.client.post("/fhir/Observation", headers=h, json=other)).status_code == 403
    moved = {**other, "id": "a1"}
    assert (await secured.client.put("/fhir/Observation/a1", headers=h, json=moved)).status_code == 403
    assert (await secured.client.put("/fhir/Observation/b1", headers=h, json={**own, "id": "b1"})).status_code == 404
    patch = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    r = await secured.client.patch("/fhir/Observation/b1", headers={**h, "Content-Type": "application/json-patch+json"},
                                   content=__import__("json").dumps(patch))
    assert r.status_code == 404
    r = await secured.client.delete("/fhir/Observation/b1", headers=h)
    assert r.status_code in (200, 204)
    admin = secured.headers("user/Observation.r")
    assert (await secured.client.get("/fhir/Observation/b1", headers=admin)).status_code == 200


async def test_bundles_under_patient_scopes_stay_in_the_compartment(secured: Secured) -> None:
    h = secured.headers("patient/*.cruds", patient="alice")
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"request": {"method": "GET", "url": "Observation/b1"}},
                        {"request": {"method": "GET", "url": "Observation/a1"}}]}
    r = await secured.client.post("/fhir", headers=h, json=bundle)
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["404", "200 OK"]
    wide = secured.headers("user/*.cruds")
    r = await secured.client.post("/fhir", headers=wide, json=bundle)
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["200 OK", "200 OK"]


async def test_includes_of_types_never_granted_are_left_out(secured: Secured) -> None:
    h = secured.headers("user/Observation.rs")
    bundle = (await secured.client.get("/fhir/Observation?_include=Observation:subject", headers=h)).json()
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"Observation"}
    wider = secured.headers("user/Observation.rs user/Patient.r")
    bundle = (await secured.client.get("/fhir/Observation?_include=Observation:subject", headers=wider)).json()
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"Observation", "Patient"}


async def test_chains_and_has_need_search_on_the_types_they_reach(secured: Secured) -> None:
    h = secured.headers("user/Observation.rs user/Patient.rs")
    ok = await secured.client.get("/fhir/Observation?subject:Patient.name=Brown", headers=h)
    assert ok.status_code == 200 and _ids(ok.json()) == {"Observation/b1", "Observation/b2"}
    only_obs = secured.headers("user/Observation.rs")
    r = await secured.client.get("/fhir/Observation?subject:Patient.name=Brown", headers=only_obs)
    assert r.status_code == 403
    only_patient = secured.headers("user/Patient.rs")
    r = await secured.client.get("/fhir/Patient?_has:Condition:subject:code:text=secret", headers=only_patient)
    assert r.status_code == 403


async def test_subscription_operations_need_unbounded_wildcard_read(secured: Secured) -> None:
    for scope, patient in (("patient/*.rs", "alice"), ("user/Subscription.rs", None)):
        r = await secured.client.get("/fhir/Subscription/$status", headers=secured.headers(scope, patient=patient))
        assert r.status_code == 403, scope
    r = await secured.client.get("/fhir/Subscription/$status", headers=secured.headers("user/*.rs"))
    assert r.status_code == 200
