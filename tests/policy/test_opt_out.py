"""The National Data Opt-out, with real tokens on both engines: research (HRESCH) and planning (HOPERAT) never
reach a patient who opted out, by any interaction, not even as a count; direct care and public health do."""

from __future__ import annotations

import pytest

from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401
from tests.policy.views import seen

pytestmark = pytest.mark.anyio
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
OPT_OUT = {
    "resourceType": "Consent", "id": "bob-opt-out", "status": "active",
    "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
    "patient": {"reference": "Patient/bob"},
    "policyRule": {"text": "National Data Opt-out"},
    "provision": {"type": "deny", "purpose": [{"system": ACT_REASON, "code": "HRESCH"},
                                              {"system": ACT_REASON, "code": "HOPERAT"}]},
}


_view = seen


# (request, what anyone sees without an opt-out in force, what research and planning see with bob opted out)
CASES = [
    ("/fhir/Patient/bob", 200, 404),
    ("/fhir/Patient/alice", 200, 200),
    ("/fhir/Observation/b1", 200, 404),
    ("/fhir/Observation/b1/_history/1", 200, 404),
    ("/fhir/Patient/bob/_history", (None, ["Patient/bob"]), 404),
    ("/fhir/Patient?_summary=count", (2, []), (1, [])),
    ("/fhir/Observation?_summary=count", (4, []), (2, [])),
    ("/fhir/Observation?patient=bob", (2, ["Observation/b1", "Observation/b2"]), (0, [])),
    ("/fhir/Observation?code=http://loinc.org|8867-4",
     (2, ["Observation/a1", "Observation/b1"]), (1, ["Observation/a1"])),
    ("/fhir/Observation?subject.family=Brown", (2, ["Observation/b1", "Observation/b2"]), (0, [])),
    ("/fhir/Patient?_has:Observation:subject:code=8867-4", (2, ["Patient/alice", "Patient/bob"]),
     (1, ["Patient/alice"])),
    ("/fhir/Practitioner?_revinclude=Observation:performer",
     (1, ["Observation/a1", "Observation/b1", "Practitioner/drwho"]),
     (1, ["Observation/a1", "Practitioner/drwho"])),
    ("/fhir/Observation?_id=a1,b1&_include=Observation:subject",
     (2, ["Observation/a1", "Observation/b1", "Patient/alice", "Patient/bob"]),
     (1, ["Observation/a1", "Patient/alice"])),
    ("/fhir/Consent?patient=bob", (1, ["Consent/bob-opt-out"]), (0, [])),
    ("/fhir/Condition?_count=0", (1, []), (0, [])),
]
PURPOSES = [("TREAT", False), ("PUBHLTH", False), ("HRESCH", True), ("HOPERAT", True)]


async def _setup(secured: Secured) -> dict[str, str]:  # noqa: F811
    writer = secured.headers("system/*.cruds")
    for p in ("alice", "bob"):  # direct care needs a relationship (policy/relationships.py)
        team = {"resourceType": "CareTeam", "id": f"{p}-team", "status": "active",
                "subject": {"reference": f"Patient/{p}"},
                "participant": [{"member": {"reference": "Practitioner/drwho"}}]}
        assert (await secured.client.put(f"/fhir/CareTeam/{p}-team", json=team, headers=writer)).status_code == 201
    r = await secured.client.put("/fhir/Consent/bob-opt-out", json=OPT_OUT, headers=writer)
    assert r.status_code == 201, r.text
    secured.auth.users.add("analyst", PASSWORD, practitioner="drwho", org="A81001")
    return secured.headers("user/*.rs", user="analyst")


async def test_opt_out_by_purpose_and_interaction(secured: Secured) -> None:  # noqa: F811
    headers = await _setup(secured)
    for purpose, excluded in PURPOSES:
        for path, open_view, opted_out_view in CASES:
            got = await _view(secured, {**headers, "X-Purpose-Of-Use": purpose}, path)
            assert got == (opted_out_view if excluded else open_view), (purpose, path, got)


async def test_type_and_system_history_leave_the_opted_out_patient_out(secured: Secured) -> None:  # noqa: F811
    headers = await _setup(secured)
    research = {**headers, "X-Purpose-Of-Use": "HRESCH"}
    _total, ids = await _view(secured, research, "/fhir/Observation/_history")  # type: ignore[misc]
    assert ids == ["Observation/a1", "Observation/a2"]
    _total, ids = await _view(secured, {**headers, "X-Purpose-Of-Use": "TREAT"}, "/fhir/Observation/_history")
    assert ids == ["Observation/a1", "Observation/a2", "Observation/b1", "Observation/b2"]


async def test_withdrawing_the_opt_out_counts_from_the_next_request(secured: Secured) -> None:  # noqa: F811
    headers = await _setup(secured)
    research = {**headers, "X-Purpose-Of-Use": "HRESCH"}
    assert await _view(secured, research, "/fhir/Patient/bob") == 404
    writer = secured.headers("system/*.cruds")
    withdrawn = {**OPT_OUT, "status": "inactive"}
    assert (await secured.client.put("/fhir/Consent/bob-opt-out", json=withdrawn, headers=writer)).status_code == 200
    assert await _view(secured, research, "/fhir/Patient/bob") == 200
    assert (await secured.client.put("/fhir/Consent/bob-opt-out", json=OPT_OUT, headers=writer)).status_code == 200
    assert await _view(secured, research, "/fhir/Observation?patient=bob") == (0, [])
    assert (await secured.client.delete("/fhir/Consent/bob-opt-out", headers=writer)).status_code in (200, 204)
    assert await _view(secured, research, "/fhir/Observation?patient=bob") == (2, ["Observation/b1",
                                                                                   "Observation/b2"])


async def test_an_opt_out_of_research_alone_leaves_planning_alone(secured: Secured) -> None:  # noqa: F811
    headers = await _setup(secured)
    writer = secured.headers("system/*.cruds")
    research_only = {**OPT_OUT, "provision": {"type": "deny", "purpose": [{"system": ACT_REASON, "code": "HRESCH"}]}}
    assert (await secured.client.put("/fhir/Consent/bob-opt-out", json=research_only, headers=writer)).status_code \
        == 200
    assert await _view(secured, {**headers, "X-Purpose-Of-Use": "HRESCH"}, "/fhir/Patient/bob") == 404
    assert await _view(secured, {**headers, "X-Purpose-Of-Use": "HOPERAT"}, "/fhir/Patient/bob") == 200
