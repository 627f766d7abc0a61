"""A member of staff's batch and transaction Bundles, with real tokens on both engines: each entry answers as the
same request sent on its own would, so a patient outside their relationships is absent from reads, searches,
updates, patches and deletes inside a Bundle too, and a transaction touching one changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401
from tests.policy.views import seen

pytestmark = pytest.mark.anyio
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ORG = {"resourceType": "Organization", "id": "surgery", "identifier": [{"system": ODS, "value": "A81001"}],
       "name": "Ashby Surgery"}
CARE_TEAM = {"resourceType": "CareTeam", "id": "ct", "status": "active", "subject": {"reference": "Patient/alice"},
             "participant": [{"member": {"reference": "Practitioner/drwho"}}]}
TYPES = ("Patient", "Observation", "Practitioner")

# GET requests whose answer inside a batch must be the answer on their own (alice is related, bob is not)
GETS = [
    "Observation/a1",
    "Observation/b1",
    "Observation/a1/_history/1",
    "Observation/b1/_history/1",
    "Observation/a1/_history",
    "Observation/b1/_history",
    "Observation/_history",
    "Patient/alice/Observation?_total=accurate",
    "Patient/bob/Observation?_total=accurate",
    "Patient/bob",
    "Observation?_total=accurate",
    "Observation?patient=bob&_total=accurate",
    "Observation?code=http://loinc.org|8867-4&_total=accurate",
    "Patient?_has:Observation:subject:code=8867-4&_total=accurate",
    "Observation?_id=a1,b1&_include=Observation:subject&_total=accurate",
]


def _obs(id_: str | None, patient: str, text: str) -> dict:
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": text},
           "subject": {"reference": f"Patient/{patient}"}}
    return {**obs, "id": id_} if id_ else obs


async def _doctor(secured: Secured, scope: str = "user/*.cruds") -> dict[str, str]:  # noqa: F811
    backend = secured.headers("system/*.cruds")
    for res in (ORG, CARE_TEAM):
        r = await secured.client.put(f"/fhir/{res['resourceType']}/{res['id']}", json=res, headers=backend)
        assert r.status_code in (200, 201), r.text
    secured.auth.users.add("dr-who", PASSWORD, practitioner="drwho", org="A81001")
    return secured.headers(scope, user="dr-who")


async def _bundle(secured: Secured, headers: dict, kind: str, entries: list[dict]) -> httpx.Response:  # noqa: F811
    return await secured.client.post("/fhir", json={"resourceType": "Bundle", "type": kind, "entry": entries},
                                     headers=headers)


def _entry_seen(entry: dict) -> object:
    """A batch response entry in the shape `views.seen` gives a request sent on its own."""
    status = int(entry["response"]["status"].split()[0])
    body = entry.get("resource")
    if status != 200 or body is None or body["resourceType"] != "Bundle":
        return status
    return body.get("total"), sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}"
                                     for e in body.get("entry", []) if "resource" in e
                                     and e["resource"]["resourceType"] in TYPES)


async def _current(secured: Secured, path: str) -> dict:  # noqa: F811
    r = await secured.client.get(f"/fhir/{path}", headers=secured.headers("system/*.rs"))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("kind", ["batch", "transaction"])
async def test_each_get_entry_answers_as_the_request_on_its_own(secured: Secured, kind: str) -> None:  # noqa: F811
    headers = await _doctor(secured)
    r = await _bundle(secured, headers, kind, [{"request": {"method": "GET", "url": url}} for url in GETS])
    assert r.status_code == 200, r.text
    answers = [_entry_seen(e) for e in r.json()["entry"]]
    alone = [await seen(secured, headers, f"/fhir/{url}", TYPES) for url in GETS]
    assert answers == alone
    assert dict(zip(GETS, answers, strict=True)) == {
        "Observation/a1": 200,
        "Observation/b1": 404,
        "Observation/a1/_history/1": 200,
        "Observation/b1/_history/1": 404,
        "Observation/a1/_history": (None, ["Observation/a1"]),
        "Observation/b1/_history": 404,
        "Observation/_history": (None, ["Observation/a1", "Observation/a2"]),
        "Patient/alice/Observation?_total=accurate": (2, ["Observation/a1", "Observation/a2"]),
        "Patient/bob/Observation?_total=accurate": (0, []),
        "Patient/bob": 404,
        "Observation?_total=accurate": (2, ["Observation/a1", "Observation/a2"]),
        "Observation?patient=bob&_total=accurate": (0, []),
        "Observation?code=http://loinc.org|8867-4&_total=accurate": (1, ["Observation/a1"]),
        "Patient?_has:Observation:subject:code=8867-4&_total=accurate": (1, ["Patient/alice"]),
        "Observation?_id=a1,b1&_include=Observation:subject&_total=accurate": (1, ["Observation/a1",
                                                                                    "Patient/alice"]),
    }


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_a_transaction_changing_an_unrelated_patients_resource_fails_404_and_changes_nothing(
        secured: Secured, method: str) -> None:  # noqa: F811
    headers = await _doctor(secured)
    before = await _current(secured, "Observation?_summary=count")
    b1 = await _current(secured, "Observation/b1")
    change: dict = {"request": {"method": method, "url": "Observation/b1"}}
    if method == "PUT":
        change["resource"] = _obs("b1", "bob", "overwritten")
    else:
        change["resource"] = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Observation.status"},
            {"name": "value", "valueCode": "amended"}]}]}
    allowed = {"request": {"method": "POST", "url": "Observation"}, "resource": _obs(None, "alice", "pulse")}
    r = await _bundle(secured, headers, "transaction", [allowed, change])
    assert r.status_code == 404, r.text
    assert r.json()["issue"][0]["diagnostics"] == "Bundle.entry[1]: Observation/b1 does not exist."
    assert await _current(secured, "Observation/b1") == b1
    assert (await _current(secured, "Observation?_summary=count"))["total"] == before["total"]


async def test_an_update_as_create_cannot_take_an_id_held_by_an_unrelated_patient(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    b1 = await _current(secured, "Observation/b1")
    alone = await secured.client.put("/fhir/Observation/b1", json=_obs("b1", "alice", "mine now"), headers=headers)
    entry = {"request": {"method": "PUT", "url": "Observation/b1"}, "resource": _obs("b1", "alice", "mine now")}
    batch = (await _bundle(secured, headers, "batch", [entry])).json()["entry"][0]
    assert alone.status_code == 404 and batch["response"]["status"] == "404"
    assert "resource" not in batch
    assert await _current(secured, "Observation/b1") == b1


async def test_a_delete_of_an_unrelated_patients_resource_is_a_delete_of_nothing(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    for kind in ("batch", "transaction"):
        r = await _bundle(secured, headers, kind, [{"request": {"method": "DELETE", "url": "Observation/b1"}},
                                                   {"request": {"method": "DELETE", "url": "Observation/none"}}])
        assert r.status_code == 200, r.text
        unrelated, absent = (e["response"] for e in r.json()["entry"])
        assert unrelated["status"] == absent["status"] == "200 OK"
        assert unrelated["location"] == "Observation/b1/_history/0"
        assert absent["location"] == "Observation/none/_history/0"
    assert (await _current(secured, "Observation/b1"))["meta"]["versionId"] == "1"


async def test_a_batch_fails_only_the_entries_beyond_reach(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    entries = [{"request": {"method": "PUT", "url": "Observation/b1"}, "resource": _obs("b1", "bob", "overwritten")},
               {"request": {"method": "PUT", "url": "Observation/a1"}, "resource": _obs("a1", "alice", "amended")},
               {"request": {"method": "PUT", "url": "Observation?_id=b2"},
                "resource": _obs(None, "alice", "conditional")}]
    r = await _bundle(secured, headers, "batch", entries)
    assert r.status_code == 200, r.text
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["404", "200 OK", "201 Created"]
    assert (await _current(secured, "Observation/a1"))["code"]["text"] == "amended"
    assert (await _current(secured, "Observation/b1"))["meta"]["versionId"] == "1"
    assert (await _current(secured, "Observation/b2"))["meta"]["versionId"] == "1"  # the criteria saw no b2


async def test_conditional_matches_and_references_reach_only_related_patients(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    create = {"request": {"method": "POST", "url": "Observation", "ifNoneExist": "_id=b1"},
              "resource": _obs(None, "alice", "pulse")}
    r = await _bundle(secured, headers, "batch", [create])
    created = r.json()["entry"][0]
    assert created["response"]["status"] == "201 Created" and created["resource"]["id"] != "b1"
    by_ref = {"request": {"method": "POST", "url": "Observation"},
              "resource": {**_obs(None, "alice", "pulse"), "subject": {"reference": "Patient?name=Brown"}}}
    r = await _bundle(secured, headers, "transaction", [by_ref])
    assert r.status_code == 412, r.text
    assert "matches no resource" in r.json()["issue"][0]["diagnostics"]


async def test_an_allowed_transaction_commits(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    entries = [{"request": {"method": "PUT", "url": "Observation/a1"}, "resource": _obs("a1", "alice", "amended")},
               {"fullUrl": "urn:uuid:0c3a4e52-4b5d-4b8e-9d59-1f1b3a8f2d10",
                "request": {"method": "POST", "url": "Observation"}, "resource": _obs(None, "alice", "new")},
               {"request": {"method": "DELETE", "url": "Observation/a2"}},
               {"request": {"method": "GET", "url": "Observation?patient=alice&_total=accurate"}}]
    r = await _bundle(secured, headers, "transaction", entries)
    assert r.status_code == 200, r.text
    out = r.json()["entry"]
    assert [e["response"]["status"] for e in out] == ["200 OK", "201 Created", "204 No Content", "200 OK"]
    assert sorted(e["resource"]["code"]["text"] for e in out[3]["resource"]["entry"]) == ["amended", "new"]
    assert (await _current(secured, "Observation/a1"))["code"]["text"] == "amended"
    gone = await secured.client.get("/fhir/Observation/a2", headers=secured.headers("system/*.rs"))
    assert gone.status_code == 410


async def test_what_scopes_never_allow_is_still_refused(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured, "user/Observation.rs")
    put = {"request": {"method": "PUT", "url": "Observation/a1"}, "resource": _obs("a1", "alice", "amended")}
    get = {"request": {"method": "GET", "url": "Observation/a1"}}
    patient = secured.headers("patient/Observation.rs", patient="alice")
    for who in (headers, patient):
        assert (await _bundle(secured, who, "transaction", [get, put])).status_code == 403  # all or nothing
        r = await _bundle(secured, who, "batch", [put, get])  # a batch's entries stand alone (http.html#transaction)
        assert r.status_code == 200, r.text
        refused, read = r.json()["entry"]
        assert refused["response"]["status"] == "403" and read["response"]["status"] == "200 OK"
        assert refused["response"]["outcome"]["issue"][0]["code"] == "forbidden"
    assert (await _current(secured, "Observation/a1"))["meta"]["versionId"] == "1"


async def test_patient_scopes_in_a_bundle_reach_and_write_only_their_compartment(secured: Secured) -> None:  # noqa: F811
    headers = secured.headers("patient/Observation.cruds", patient="alice")
    get = [{"request": {"method": "GET", "url": url}} for url in GETS if url.startswith("Observation")]
    r = await _bundle(secured, headers, "batch", get)
    assert [_entry_seen(e) for e in r.json()["entry"]] == \
        [await seen(secured, headers, f"/fhir/{e['request']['url']}", TYPES) for e in get]
    entries = [{"request": {"method": "POST", "url": "Observation"}, "resource": _obs(None, "bob", "pulse")},
               {"request": {"method": "PUT", "url": "Observation/a1"}, "resource": _obs("a1", "bob", "moved")},
               {"request": {"method": "PUT", "url": "Observation/b1"}, "resource": _obs("b1", "alice", "taken")},
               {"request": {"method": "DELETE", "url": "Observation/b1"}},
               {"request": {"method": "PUT", "url": "Observation/a2"}, "resource": _obs("a2", "alice", "amended")}]
    r = await _bundle(secured, headers, "batch", entries)
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["403", "403", "404", "200 OK", "200 OK"]
    again = {"request": {"method": "PUT", "url": "Observation/a2"}, "resource": _obs("a2", "alice", "again")}
    r = await _bundle(secured, headers, "transaction", [again, entries[1]])
    assert r.status_code == 403, r.text
    assert (await _current(secured, "Observation/a1"))["meta"]["versionId"] == "1"
    assert (await _current(secured, "Observation/b1"))["meta"]["versionId"] == "1"
    assert (await _current(secured, "Observation/a2"))["code"]["text"] == "amended"
