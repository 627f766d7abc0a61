"""The patient's privacy Consent, with real tokens on both engines: what each kind of provision withholds from
which member of staff, for which purpose, by every route a search offers; a change counts from the next request;
patients manage their own Consents."""

from __future__ import annotations

import pytest

from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
SCOPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]}
OBSERVATION = {"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}
ROLE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}
DR_WHO = {"role": ROLE, "reference": {"reference": "Practitioner/drwho"}}
SURGERY = {"role": ROLE, "reference": {"reference": "Organization/surgery"}}
RESTRICTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}


def consent(provision: dict, id_: str = "alice-privacy", patient: str = "alice", status: str = "active") -> dict:
    return {"resourceType": "Consent", "id": id_, "status": status, "scope": SCOPE,
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient}"}, "policyRule": {"text": "My choices"},
            "provision": provision}


async def _put(secured: Secured, resource: dict, headers: dict | None = None) -> int:  # noqa: F811
    headers = headers or secured.headers("system/*.cruds")
    r = await secured.client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource,
                                 headers=headers)
    assert r.status_code in (200, 201, 403), r.text
    return r.status_code


async def _setup(secured: Secured, *extra: dict) -> None:  # noqa: F811
    """Dr Who (at the surgery, by ODS code) and nurse Rose (elsewhere) both care for alice and bob."""
    records = [{"resourceType": "Organization", "id": "surgery", "identifier": [{"system": ODS, "value": "A81001"}]}]
    for p in ("alice", "bob"):
        records.append({"resourceType": "CareTeam", "id": f"{p}-team", "status": "active",
                        "subject": {"reference": f"Patient/{p}"},
                        "participant": [{"member": {"reference": "Practitioner/drwho"}},
                                        {"member": {"reference": "Practitioner/rose"}}]})
    for r in [*records, *extra]:
        assert await _put(secured, r) in (200, 201), r
    secured.auth.users.add("dr-who", PASSWORD, practitioner="drwho", org="A81001")
    secured.auth.users.add("rose", PASSWORD, practitioner="rose", org="B12345")


def _as(secured: Secured, user: str, purpose: str = "TREAT") -> dict[str, str]:  # noqa: F811
    headers = {**secured.headers("user/*.rs", user=user), "X-Purpose-Of-Use": purpose}
    if purpose == "ETREAT":
        headers["X-Break-Glass-Reason"] = "anaphylaxis in clinic"
    return headers


async def _seen(secured: Secured, headers: dict) -> list[str]:  # noqa: F811
    """Every Patient, Observation and Condition the user can find (alice's: Patient, a1, a2)."""
    r = await secured.client.get("/fhir/Observation?_include=Observation:subject&_count=50", headers=headers)
    assert r.status_code == 200, r.text
    found = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in r.json().get("entry", [])}
    r = await secured.client.get("/fhir/Patient?_count=50", headers=headers)
    found |= {f"Patient/{e['resource']['id']}" for e in r.json().get("entry", [])}
    return sorted(found)


EVERYTHING = ["Observation/a1", "Observation/a2", "Observation/b1", "Observation/b2", "Patient/alice", "Patient/bob"]
BOB = ["Observation/b1", "Observation/b2", "Patient/bob"]

# provision, what dr Who sees, what nurse Rose sees (both TREAT)
CASES = {
    "none": (None, EVERYTHING, EVERYTHING),
    "deny-all": ({"type": "deny"}, BOB, BOB),
    "deny-class": ({"type": "permit", "provision": [{"type": "deny", "class": [OBSERVATION]}]},
                   sorted([*BOB, "Patient/alice"]), sorted([*BOB, "Patient/alice"])),
    "deny-actor": ({"type": "permit", "provision": [{"type": "deny", "actor": [DR_WHO]}]}, BOB, EVERYTHING),
    "deny-organisation": ({"type": "permit", "provision": [{"type": "deny", "actor": [SURGERY]}]}, BOB, EVERYTHING),
    "deny-code": ({"type": "permit", "provision": [{"type": "deny", "code": [
        {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]}]}]},
        [o for o in EVERYTHING if o != "Observation/a2"], [o for o in EVERYTHING if o != "Observation/a2"]),
    "permit-with-nested-deny": ({"type": "deny", "provision": [{"type": "permit", "actor": [DR_WHO], "provision": [
        {"type": "deny", "class": [OBSERVATION], "code": [{"coding": [{"system": "http://loinc.org",
                                                                        "code": "2339-0"}]}]}]}]},
        [o for o in EVERYTHING if o != "Observation/a2"], BOB),
    "permit-base-for-one-actor": ({"type": "permit", "actor": [DR_WHO]}, EVERYTHING, BOB),
    "deny-research-only": ({"type": "deny", "purpose": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}]}, EVERYTHING, EVERYTHING),
    "inactive": ({"type": "deny"}, EVERYTHING, EVERYTHING),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_what_each_consent_withholds_from_whom(secured: Secured, case: str) -> None:  # noqa: F811
    provision, doctor, nurse = CASES[case]
    extra = [consent(provision, status="inactive" if case == "inactive" else "active")] if provision else []
    await _setup(secured, *extra)
    assert await _seen(secured, _as(secured, "dr-who")) == doctor
    assert await _seen(secured, _as(secured, "rose")) == nurse
    # break-glass goes beyond the Consent; a backend client is bounded by its scopes alone
    assert await _seen(secured, _as(secured, "dr-who", "ETREAT")) == EVERYTHING
    assert await _seen(secured, secured.headers("system/*.rs")) == EVERYTHING


async def test_a_purpose_denied_is_denied_only_for_that_purpose(secured: Secured) -> None:  # noqa: F811
    provision, *_ = CASES["deny-research-only"]
    await _setup(secured, consent(provision))
    assert await _seen(secured, _as(secured, "dr-who", "HRESCH")) == BOB
    assert await _seen(secured, _as(secured, "dr-who", "HOPERAT")) == EVERYTHING


async def test_security_label_and_data_period(secured: Secured) -> None:  # noqa: F811
    labelled = {"resourceType": "Observation", "id": "a3", "status": "final", "meta": {"security": [RESTRICTED]},
                "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
                "subject": {"reference": "Patient/alice"}}
    dated = {"resourceType": "Observation", "id": "a4", "status": "final", "effectiveDateTime": "2020-05-01",
             "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
             "subject": {"reference": "Patient/alice"}}
    await _setup(secured, labelled, dated, consent({"type": "permit", "provision": [
        {"type": "deny", "securityLabel": [RESTRICTED]},
        {"type": "deny", "dataPeriod": {"start": "2020-01-01", "end": "2020-12-31"}}]}))
    seen = await _seen(secured, _as(secured, "dr-who"))
    assert "Observation/a3" not in seen and "Observation/a4" not in seen
    assert "Observation/a1" in seen
    assert (await secured.client.get("/fhir/Observation/a3", headers=_as(secured, "dr-who"))).status_code == 404


ROUTES = [  # with alice's Observations withheld from dr Who: what each route gives away
    ("/fhir/Observation/a1", 404),
    ("/fhir/Observation/a1/_history/1", 404),
    ("/fhir/Observation/a1/_history", 404),
    ("/fhir/Observation?_summary=count", (2, [])),
    ("/fhir/Observation?_sort=-code", (2, ["Observation/b1", "Observation/b2"])),
    ("/fhir/Patient?_has:Observation:subject:code=8867-4", (1, ["Patient/bob"])),
    ("/fhir/Patient?_revinclude=Observation:subject&_id=alice", (1, ["Patient/alice"])),
    ("/fhir/Practitioner?_revinclude=Observation:performer", (1, ["Observation/b1", "Practitioner/drwho"])),
    ("/fhir/Observation?subject.family=Ashby", (0, [])),
    ("/fhir/Observation/_history", (None, ["Observation/b1", "Observation/b2"])),
]


async def test_no_route_gives_withheld_data_away(secured: Secured) -> None:  # noqa: F811
    await _setup(secured, consent(CASES["deny-class"][0]))
    headers = _as(secured, "dr-who")
    for path, expected in ROUTES:
        r = await secured.client.get(path, headers=headers)
        if r.status_code != 200 or r.json()["resourceType"] != "Bundle":
            got: object = r.status_code
        else:
            body = r.json()
            got = (body.get("total"), sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}"
                                             for e in body.get("entry", []) if "resource" in e))
        assert got == expected, path


async def test_a_change_of_consent_counts_from_the_next_request(secured: Secured) -> None:  # noqa: F811
    await _setup(secured)
    headers = _as(secured, "dr-who")
    assert await _seen(secured, headers) == EVERYTHING
    assert await _put(secured, consent({"type": "deny"})) == 201
    assert await _seen(secured, headers) == BOB
    assert await _put(secured, consent({"type": "deny"}, status="inactive")) == 200
    assert await _seen(secured, headers) == EVERYTHING
    assert await _put(secured, consent({"type": "deny"})) == 200
    r = await secured.client.delete("/fhir/Consent/alice-privacy", headers=secured.headers("system/*.cruds"))
    assert r.status_code in (200, 204)
    assert await _seen(secured, headers) == EVERYTHING


async def test_a_patient_manages_their_own_consents(secured: Secured) -> None:  # noqa: F811
    await _setup(secured)
    mine = secured.headers("patient/*.cruds", user="alice-user")
    assert await _put(secured, consent({"type": "permit", "provision": [{"type": "deny", "actor": [DR_WHO]}]}),
                      mine) == 201
    assert await _seen(secured, _as(secured, "dr-who")) == BOB
    r = await secured.client.get("/fhir/Consent?patient=alice", headers=mine)
    assert [e["resource"]["id"] for e in r.json()["entry"]] == ["alice-privacy"]
    assert await _put(secured, consent({"type": "deny"}, id_="bob-privacy", patient="bob"), mine) == 403
    r = await secured.client.delete("/fhir/Consent/alice-privacy", headers=mine)
    assert r.status_code in (200, 204)
    assert await _seen(secured, _as(secured, "dr-who")) == EVERYTHING
    # a patient's own record is not withheld from them by their own Consent
    assert await _put(secured, consent({"type": "deny"}, id_="again"), mine) == 201
    r = await secured.client.get("/fhir/Observation?_summary=count", headers=mine)
    assert r.json()["total"] == 2
