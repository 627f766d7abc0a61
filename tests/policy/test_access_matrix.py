"""The access matrix, through the HTTP API with real tokens on both engines: for each role, relationship,
patient Consent, purpose of use and interaction, the decision a user sees (200 with or without the resource,
404 as if absent, 403 refused), including the routes that could leak a withheld resource (includes, chains,
`_has`, `_sort`, history and counts). Each patient of the seeded data stands for one relationship and one
Consent; the expectation is computed from the rules as the README states them, not from the implementation."""

from __future__ import annotations

import itertools

import pytest

from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
SCOPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]}
ROLE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}
OBSERVATION = {"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}

# role -> (user: practitioner, ODS code of their organisation, job roles); None: not a member of staff
ROLES = {
    "gp": ("gp", "A81001", ("R8000",)),
    "ward-nurse": ("nurse", "RX1", ("R8001",)),
    "other-org-clinician": ("other", "Z99999", ("R8000",)),
    "researcher": ("res", "RX1", ("researcher",)),
    "patient": None,
    "backend": None,
}
RELATIONSHIPS = ["gp-registration", "care-team", "open-encounter", "none"]
CONSENTS = {
    "none": None,
    "deny-all": {"type": "deny"},
    "deny-class": {"type": "permit", "provision": [{"type": "deny", "class": [OBSERVATION]}]},
    "deny-actor": {"type": "permit", "provision": [
        {"type": "deny", "actor": [{"role": ROLE, "reference": {"reference": "Practitioner/gp"}}]}]},
    "permit-with-nested-deny": {"type": "deny", "provision": [
        {"type": "permit", "actor": [{"role": ROLE, "reference": {"reference": "Organization/hospital"}}],
         "provision": [{"type": "deny", "class": [OBSERVATION]}]}]},
}
PURPOSES = ["TREAT", "ETREAT", "HRESCH"]
INTERACTIONS = ["read", "search", "_include", "_revinclude", "chaining", "_has", "history", "_sort", "count"]


def _pid(rel: str, consent: str) -> str:
    return f"{rel}.{consent}"


def _records() -> list[dict]:
    out: list[dict] = [
        {"resourceType": "Organization", "id": "surgery", "identifier": [{"system": ODS, "value": "A81001"}]},
        {"resourceType": "Organization", "id": "hospital", "identifier": [{"system": ODS, "value": "RX1"}]},
    ]
    for n, (rel, consent) in enumerate(itertools.product(RELATIONSHIPS, CONSENTS)):
        pid = _pid(rel, consent)
        me = {"reference": f"Patient/{pid}"}
        patient: dict = {"resourceType": "Patient", "id": pid, "name": [{"family": f"Family{n}"}]}
        if rel == "gp-registration":
            patient["generalPractitioner"] = [{"reference": "Organization/surgery"}]
        out.append(patient)
        out.append({"resourceType": "Observation", "id": f"o.{pid}", "status": "final", "subject": me,
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                    "effectiveDateTime": f"2024-01-{n + 1:02d}"})
        if rel == "care-team":
            out.append({"resourceType": "CareTeam", "id": f"ct.{pid}", "status": "active", "subject": me,
                        "participant": [{"member": {"reference": "Practitioner/nurse"}}]})
        if rel == "open-encounter":
            out.append({"resourceType": "Encounter", "id": f"enc.{pid}", "status": "in-progress",
                        "class": {"code": "IMP"}, "subject": me,
                        "serviceProvider": {"reference": "Organization/hospital"}})
        if CONSENTS[consent] is not None:
            out.append({"resourceType": "Consent", "id": f"c.{pid}", "status": "active", "scope": SCOPE,
                        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                        "patient": me, "policyRule": {"text": "The patient's choices"},
                        "provision": CONSENTS[consent]})
    return out


def _related(role: str, rel: str) -> bool:
    return (role, rel) in {("gp", "gp-registration"), ("ward-nurse", "care-team"), ("ward-nurse", "open-encounter")}


def _consent_allows(role: str, consent: str, what: str) -> bool:
    org = ROLES[role][1] if ROLES[role] else None
    return {"none": True, "deny-all": False, "deny-class": what != "Observation", "deny-actor": role != "gp",
            "permit-with-nested-deny": org == "RX1" and what != "Observation"}[consent]


def _visible(role: str, rel: str, consent: str, purpose: str, what: str) -> bool | int:
    """Whether `what` (Patient or Observation) of the patient is reached; 403 when the request is refused."""
    if role in ("patient", "backend"):  # their own record; bounded by scopes alone. Break-glass is for staff
        return 403 if purpose == "ETREAT" else True
    if role == "researcher":  # no direct care; research needs no relationship, but the Consent binds it
        return 403 if purpose != "HRESCH" else _consent_allows(role, consent, what)
    if purpose == "HRESCH":  # clinical roles are not given research in the built-in policy
        return 403
    if purpose == "ETREAT":
        return True
    return _related(role, rel) and _consent_allows(role, consent, what)


def expected(role: str, rel: str, consent: str, purpose: str, interaction: str) -> object:
    pid = _pid(rel, consent)
    p, o = (_visible(role, rel, consent, purpose, w) for w in ("Patient", "Observation"))
    if p == 403:
        return 403
    obs, pat = [f"Observation/o.{pid}"] * bool(o), [f"Patient/{pid}"] * bool(p)
    return {
        "read": 200 if o else 404,
        "history": obs or 404,
        "search": obs,
        "_sort": obs,
        "count": len(obs),
        "_include": obs + pat * bool(o),
        "_revinclude": pat + obs * bool(p),
        "chaining": obs * bool(p),
        "_has": pat * bool(o),
    }[interaction]


def _path(interaction: str, rel: str, consent: str) -> str:
    pid = _pid(rel, consent)
    family = f"Family{list(itertools.product(RELATIONSHIPS, CONSENTS)).index((rel, consent))}"
    return {
        "read": f"/fhir/Observation/o.{pid}",
        "history": f"/fhir/Observation/o.{pid}/_history",
        "search": f"/fhir/Observation?patient={pid}",
        "_sort": f"/fhir/Observation?subject=Patient/{pid}&_sort=-date",
        "count": f"/fhir/Observation?patient={pid}&_summary=count",
        "_include": f"/fhir/Observation?_id=o.{pid}&_include=Observation:subject",
        "_revinclude": f"/fhir/Patient?_id={pid}&_revinclude=Observation:subject",
        "chaining": f"/fhir/Observation?subject:Patient.family:exact={family}",
        "_has": f"/fhir/Patient?_id={pid}&_has:Observation:subject:code=8867-4",
    }[interaction]


async def _observed(secured: Secured, headers: dict, interaction: str, path: str) -> object:  # noqa: F811
    r = await secured.client.get(path, headers=headers)
    if r.status_code != 200 or r.json()["resourceType"] != "Bundle":
        assert r.status_code in (200, 403, 404), r.text
        return r.status_code
    body = r.json()
    if interaction == "count":
        return body["total"]
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body.get("entry", [])]


async def test_access_matrix(secured: Secured) -> None:  # noqa: F811
    writer = secured.headers("system/*.cruds")
    for res in _records():
        r = await secured.client.put(f"/fhir/{res['resourceType']}/{res['id']}", json=res, headers=writer)
        assert r.status_code in (200, 201), r.text
    for role, staff in ROLES.items():
        if staff is not None:
            secured.auth.users.add(role, PASSWORD, practitioner=staff[0], org=staff[1], roles=staff[2])
    cases, wrong = 0, []
    for role, rel, consent, purpose in itertools.product(ROLES, RELATIONSHIPS, CONSENTS, PURPOSES):
        if role == "patient":
            headers = secured.headers("patient/*.rs", patient=_pid(rel, consent))
        elif role == "backend":
            headers = secured.headers("system/*.rs")
        else:
            headers = secured.headers("user/*.rs", user=role)
        headers["X-Purpose-Of-Use"] = purpose
        if purpose == "ETREAT":
            headers["X-Break-Glass-Reason"] = "collapsed in the waiting room"
        for interaction in INTERACTIONS:
            cases += 1
            want = expected(role, rel, consent, purpose, interaction)
            got = await _observed(secured, headers, interaction, _path(interaction, rel, consent))
            if got != want:
                wrong.append((role, rel, consent, purpose, interaction, want, got))
    print(f"access matrix: {cases} cases")
    assert cases == len(ROLES) * len(RELATIONSHIPS) * len(CONSENTS) * len(PURPOSES) * len(INTERACTIONS) == 3240
    assert wrong == [], f"{len(wrong)} of {cases} cases differ: {wrong[:10]}"
