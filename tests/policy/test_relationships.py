"""Legitimate relationships, with real tokens on both engines: a member of staff reaches a patient only through
a registration, a care team, an open encounter or episode of care at their organisation or a referral, by any
interaction and not even as a count; break-glass, research, patients and backend clients are not bound by it."""

from __future__ import annotations

import pytest

from caregate.policy.relationships import KINDS, use_kinds
from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401
from tests.policy.views import seen as seen_by

pytestmark = pytest.mark.anyio
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ORG = {"resourceType": "Organization", "id": "surgery", "identifier": [{"system": ODS, "value": "A81001"}],
       "name": "Ashby Surgery"}
ALICE = {"reference": "Patient/alice"}
ME = {"reference": "Practitioner/drwho"}
MY_ORG = {"reference": "Organization/surgery"}


def _registered(gp: dict) -> dict:
    return {"resourceType": "Patient", "id": "alice", "name": [{"family": "Ashby"}], "generalPractitioner": [gp]}


# kind -> (a resource giving dr Who a relationship with alice, the same resource when it gives none)
RELATIONS = {
    "gp-registration": (_registered(MY_ORG), _registered({"reference": "Organization/elsewhere"})),
    "care-team": ({"resourceType": "CareTeam", "id": "ct", "status": "active", "subject": ALICE,
                   "participant": [{"member": ME}]},
                  {"resourceType": "CareTeam", "id": "ct", "status": "inactive", "subject": ALICE,
                   "participant": [{"member": ME}]}),
    "encounter": ({"resourceType": "Encounter", "id": "enc", "status": "in-progress",
                   "class": {"code": "IMP"}, "subject": ALICE, "serviceProvider": MY_ORG},
                  {"resourceType": "Encounter", "id": "enc", "status": "finished",
                   "class": {"code": "IMP"}, "subject": ALICE, "serviceProvider": MY_ORG}),
    "episode-of-care": ({"resourceType": "EpisodeOfCare", "id": "eoc", "status": "active", "patient": ALICE,
                         "managingOrganization": MY_ORG},
                        {"resourceType": "EpisodeOfCare", "id": "eoc", "status": "finished", "patient": ALICE,
                         "managingOrganization": MY_ORG}),
    "referral": ({"resourceType": "ServiceRequest", "id": "ref", "status": "active", "intent": "order",
                  "subject": ALICE, "performer": [ME]},
                 {"resourceType": "ServiceRequest", "id": "ref", "status": "active", "intent": "plan",
                  "subject": ALICE, "performer": [ME]}),
}

# (request, what dr Who sees related to alice alone; bob is out of reach whatever the interaction)
CASES = [
    ("/fhir/Patient/alice", 200),
    ("/fhir/Patient/bob", 404),
    ("/fhir/Observation/a1", 200),
    ("/fhir/Observation/b1", 404),
    ("/fhir/Observation/b1/_history/1", 404),
    ("/fhir/Patient/bob/_history", 404),
    ("/fhir/Patient?_summary=count", (1, [])),
    ("/fhir/Observation?_summary=count", (2, [])),
    ("/fhir/Observation?code=http://loinc.org|8867-4", (1, ["Observation/a1"])),
    ("/fhir/Observation?subject.family=Brown", (0, [])),
    ("/fhir/Patient?_has:Observation:subject:code=8867-4", (1, ["Patient/alice"])),
    ("/fhir/Practitioner?_revinclude=Observation:performer", (1, ["Observation/a1", "Practitioner/drwho"])),
    ("/fhir/Observation?_id=a1,b1&_include=Observation:subject", (1, ["Observation/a1", "Patient/alice"])),
    ("/fhir/Observation?_sort=-code", (2, ["Observation/a1", "Observation/a2"])),
    ("/fhir/Condition?_count=0", (0, [])),
    ("/fhir/List?_summary=count", (0, [])),
]


async def _view(secured: Secured, headers: dict, path: str) -> object:  # noqa: F811
    return await seen_by(secured, headers, path, ("Patient", "Observation", "Practitioner"))


async def _write(secured: Secured, *resources: dict) -> None:  # noqa: F811
    writer = secured.headers("system/*.cruds")
    for res in resources:
        r = await secured.client.put(f"/fhir/{res['resourceType']}/{res['id']}", json=res, headers=writer)
        assert r.status_code in (200, 201), r.text


def _doctor(secured: Secured) -> dict[str, str]:  # noqa: F811
    secured.auth.users.add("dr-who", PASSWORD, practitioner="drwho", org="A81001")
    return secured.headers("user/*.rs", user="dr-who")


@pytest.mark.parametrize("kind", sorted(RELATIONS))
async def test_each_relationship_reaches_its_patient_and_no_other(secured: Secured, kind: str) -> None:  # noqa: F811
    await _write(secured, ORG, RELATIONS[kind][0])
    headers = _doctor(secured)
    for path, expected in CASES:
        assert await _view(secured, headers, path) == expected, (kind, path)


@pytest.mark.parametrize("kind", sorted(RELATIONS))
async def test_an_ended_relationship_gives_no_access(secured: Secured, kind: str) -> None:  # noqa: F811
    await _write(secured, ORG, RELATIONS[kind][1])
    headers = _doctor(secured)
    assert await _view(secured, headers, "/fhir/Patient/alice") == 404
    assert await _view(secured, headers, "/fhir/Observation?_summary=count") == (0, [])
    assert await _view(secured, headers, "/fhir/Patient?_has:Observation:subject:code=8867-4") == (0, [])


async def test_paging_counts_only_related_patients(secured: Secured) -> None:  # noqa: F811
    await _write(secured, ORG, RELATIONS["care-team"][0])
    headers = _doctor(secured)
    r = await secured.client.get("/fhir/Observation?_count=1&_total=accurate", headers=headers)
    body = r.json()
    assert body["total"] == 2
    nxt = next(link["url"] for link in body["link"] if link["relation"] == "next")
    second = (await secured.client.get(nxt.removeprefix("http://127.0.0.1:8080"), headers=headers)).json()
    assert [e["resource"]["id"] for e in second["entry"]] != [e["resource"]["id"] for e in body["entry"]]
    assert not [link for link in second["link"] if link["relation"] == "next"]


async def test_a_relationship_counts_from_the_next_request(secured: Secured) -> None:  # noqa: F811
    headers = _doctor(secured)
    assert await _view(secured, headers, "/fhir/Patient/alice") == 404
    await _write(secured, ORG, RELATIONS["encounter"][0])
    assert await _view(secured, headers, "/fhir/Patient/alice") == 200
    await _write(secured, RELATIONS["encounter"][1])  # discharged
    assert await _view(secured, headers, "/fhir/Patient/alice") == 404


async def test_the_organisation_is_matched_by_id_or_ods_code(secured: Secured) -> None:  # noqa: F811
    await _write(secured, ORG, RELATIONS["gp-registration"][0])
    secured.auth.users.add("nurse", PASSWORD, practitioner="nurse1", org="A81001")
    secured.auth.users.add("by-id", PASSWORD, practitioner="nurse2", org="surgery")
    secured.auth.users.add("elsewhere", PASSWORD, practitioner="nurse3", org="B99999")
    for user, seen in (("nurse", 200), ("by-id", 200), ("elsewhere", 404)):
        headers = secured.headers("user/*.rs", user=user)
        assert await _view(secured, headers, "/fhir/Patient/alice") == seen, user


async def test_those_not_bound_by_relationships(secured: Secured) -> None:  # noqa: F811
    headers = _doctor(secured)
    glass = {**headers, "X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": "collapsed in clinic"}
    assert await _view(secured, glass, "/fhir/Observation?_summary=count") == (4, [])
    assert await _view(secured, glass, "/fhir/Patient/bob") == 200
    research = {**headers, "X-Purpose-Of-Use": "HRESCH"}
    assert await _view(secured, research, "/fhir/Patient/bob") == 200
    backend = secured.headers("system/*.rs")
    assert await _view(secured, backend, "/fhir/Observation?_summary=count") == (4, [])
    patient = secured.headers("patient/*.rs", user="alice-user")
    assert await _view(secured, patient, "/fhir/Observation?_summary=count") == (2, [])
    no_user = secured.headers("user/*.rs")
    assert await _view(secured, no_user, "/fhir/Patient/bob") == 200


async def test_break_glass_needs_its_reason_and_btg_alone_is_not_break_glass(secured: Secured) -> None:  # noqa: F811
    headers = _doctor(secured)
    assert await _view(secured, {**headers, "X-Purpose-Of-Use": "BTG"}, "/fhir/Patient/bob") == 404
    assert await _view(secured, {**headers, "X-Purpose-Of-Use": "PUBHLTH"}, "/fhir/Patient/bob") == 404


async def test_staff_read_the_access_logs_of_their_patients_only(secured: Secured) -> None:  # noqa: F811
    await _write(secured, ORG, RELATIONS["care-team"][0])
    backend = secured.headers("system/*.rs")
    for patient in ("alice", "bob"):
        assert (await secured.client.get(f"/fhir/Patient/{patient}", headers=backend)).status_code == 200
    headers = _doctor(secured)
    log = await secured.client.get("/fhir/AuditEvent?patient=alice", headers=headers)
    assert log.status_code == 200 and log.json()["total"] >= 1
    mine = log.json()["entry"][0]["resource"]["id"]
    assert (await secured.client.get(f"/fhir/AuditEvent/{mine}", headers=headers)).status_code == 200
    theirs = await secured.client.get("/fhir/AuditEvent?patient=bob", headers=headers)
    assert theirs.status_code == 200 and theirs.json()["total"] == 0
    bobs = (await secured.client.get("/fhir/AuditEvent?patient=bob", headers=backend)).json()["entry"]
    assert (await secured.client.get(f"/fhir/AuditEvent/{bobs[0]['resource']['id']}", headers=headers)).status_code \
        == 404
    assert (await secured.client.get("/fhir/AuditEvent", headers=headers)).status_code == 403


async def test_the_kinds_that_count_are_configurable(secured: Secured) -> None:  # noqa: F811
    await _write(secured, ORG, RELATIONS["care-team"][0])
    headers = _doctor(secured)
    before = use_kinds({"gp-registration"})
    try:
        assert before == KINDS
        assert await _view(secured, headers, "/fhir/Patient/alice") == 404
        use_kinds(set())
        assert await _view(secured, headers, "/fhir/Patient/bob") == 200
    finally:
        use_kinds(before)
    with pytest.raises(ValueError, match="friendship"):
        use_kinds({"friendship"})
