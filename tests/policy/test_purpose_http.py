"""Purpose of use per request and break-glass, with real tokens: what is accepted, refused and audited."""

from __future__ import annotations

import pytest

from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio
SCOPE = "user/*.rs"


@pytest.fixture(autouse=True)
async def _care_team(secured: Secured) -> None:  # noqa: F811
    """Dr Who cares for both patients: direct care needs a relationship (policy/relationships.py)."""
    for p in ("alice", "bob"):
        team = {"resourceType": "CareTeam", "id": f"{p}-team", "status": "active",
                "subject": {"reference": f"Patient/{p}"},
                "participant": [{"member": {"reference": "Practitioner/drwho"}}]}
        r = await secured.client.put(f"/fhir/CareTeam/{p}-team", json=team, headers=secured.headers("system/*.cruds"))
        assert r.status_code == 201, r.text


def _staff(secured: Secured) -> dict[str, str]:  # noqa: F811
    secured.auth.users.add("dr-who", PASSWORD, practitioner="drwho", org="A81001")
    return secured.headers(SCOPE, user="dr-who")


async def _last_event(secured: Secured, patient: str) -> dict:  # noqa: F811
    r = await secured.client.get(f"/fhir/AuditEvent?patient={patient}&_count=1",
                                 headers=secured.headers("system/*.rs"))
    assert r.status_code == 200, r.text
    return r.json()["entry"][0]["resource"]


def _purposes(event: dict) -> set[str]:
    return {c["code"] for a in event["agent"] for p in a.get("purposeOfUse", []) for c in p["coding"]}


@pytest.mark.parametrize("header, status, where", [
    (None, 200, None),
    ("TREAT", 200, None),
    ("HRESCH", 200, None),
    ("PUBHLTH", 200, None),
    ("treat", 400, "http.X-Purpose-Of-Use"),  # codes are case-sensitive
    ("RESEARCH", 400, "http.X-Purpose-Of-Use"),
    ("ETREAT", 400, "http.X-Break-Glass-Reason"),  # break-glass without a reason
])
async def test_purpose_header_is_a_known_code(secured: Secured, header: str | None, status: int,  # noqa: F811
                                              where: str | None) -> None:
    headers = _staff(secured)
    if header is not None:
        headers["X-Purpose-Of-Use"] = header
    r = await secured.client.get("/fhir/Patient/alice", headers=headers)
    assert r.status_code == status, r.text
    event = await _last_event(secured, "alice")
    if status == 200:
        assert _purposes(event) == {header or "TREAT"}
    else:
        assert r.json()["resourceType"] == "OperationOutcome"
        assert r.json()["issue"][0]["expression"] == [where]
        assert _purposes(event) == set()  # refused: no purpose is recorded, certainly not TREAT
        assert event["outcome"] == "4"


async def test_break_glass_by_staff_is_flagged_with_its_reason(secured: Secured) -> None:  # noqa: F811
    headers = {**_staff(secured), "X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": "unconscious in resus"}
    r = await secured.client.get("/fhir/Observation?patient=bob", headers=headers)
    assert r.status_code == 200, r.text
    event = await _last_event(secured, "bob")
    assert _purposes(event) == {"ETREAT"}
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"
    details = [d for e in event["entity"] for d in e.get("detail", [])]
    assert details == [{"type": "break-glass-reason", "valueString": "unconscious in resus"}]


async def test_break_glass_is_not_for_patients(secured: Secured) -> None:  # noqa: F811
    headers = {**secured.headers("patient/*.rs", user="alice-user"), "X-Purpose-Of-Use": "ETREAT",
               "X-Break-Glass-Reason": "curious"}
    r = await secured.client.get("/fhir/Patient/alice", headers=headers)
    assert r.status_code == 403
    assert r.json()["issue"][0]["code"] == "forbidden"


async def test_ordinary_requests_carry_no_break_glass_flag(secured: Secured) -> None:  # noqa: F811
    headers = {**_staff(secured), "X-Break-Glass-Reason": "ignored without ETREAT"}
    assert (await secured.client.get("/fhir/Patient/alice", headers=headers)).status_code == 200
    event = await _last_event(secured, "alice")
    assert "purposeOfEvent" not in event
    assert not [d for e in event["entity"] for d in e.get("detail", [])]


async def test_token_claim_sets_the_purpose_and_the_header_cannot_contradict_it(secured: Secured) -> None:  # noqa: F811
    token, _ = secured.auth.tokens.access_token(client_id="app", subject="app", scope="system/*.rs",
                                                purpose="HRESCH")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await secured.client.get("/fhir/Patient/bob", headers=headers)).status_code == 200
    assert _purposes(await _last_event(secured, "bob")) == {"HRESCH"}
    r = await secured.client.get("/fhir/Patient/bob", headers={**headers, "X-Purpose-Of-Use": "TREAT"})
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["http.X-Purpose-Of-Use"]
    same = await secured.client.get("/fhir/Patient/bob", headers={**headers, "X-Purpose-Of-Use": "HRESCH"})
    assert same.status_code == 200


async def test_metadata_ignores_the_purpose(secured: Secured) -> None:  # noqa: F811
    r = await secured.client.get("/fhir/metadata", headers={"X-Purpose-Of-Use": "nonsense"})
    assert r.status_code == 200


async def test_researcher_role_has_no_direct_care_access(secured: Secured) -> None:  # noqa: F811
    secured.auth.users.add("rita", PASSWORD, practitioner="drwho", org="A81001", roles=("researcher",))
    headers = secured.headers(SCOPE, user="rita")
    for asked in (None, "TREAT", "ETREAT"):
        extra = {"X-Purpose-Of-Use": asked, "X-Break-Glass-Reason": "curious"} if asked else {}
        r = await secured.client.get("/fhir/Patient/alice", headers={**headers, **extra})
        assert r.status_code == 403, asked
        assert r.json()["issue"][0]["code"] == "forbidden"
    r = await secured.client.get("/fhir/Patient/alice", headers={**headers, "X-Purpose-Of-Use": "HRESCH"})
    assert r.status_code == 200
