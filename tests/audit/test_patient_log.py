"""Who looked at my record: a patient reads their own access log with a real `patient/` token, and nothing
about anyone else."""

from __future__ import annotations

import pytest

from tests.auth.conftest import Secured

pytestmark = pytest.mark.anyio


async def test_patient_sees_who_looked_at_their_record_and_nothing_else(secured: Secured) -> None:
    c = secured.client
    clinician = secured.headers("user/*.rs", user="alice-user")  # any signed-in user with wide read scopes
    assert (await c.get("/fhir/Patient/alice", headers={**clinician, "X-Purpose-Of-Use": "TREAT"})).status_code == 200
    assert (await c.get("/fhir/Observation?code=8867-4", headers=clinician)).status_code == 200  # alice and bob
    assert (await c.get("/fhir/Condition/bc", headers=clinician)).status_code == 200  # bob only
    assert (await c.get("/fhir/Patient/alice")).status_code == 401  # an attempt without a token

    alice = secured.headers("patient/*.rs", patient="alice", user="alice-user")
    r = await c.get("/fhir/AuditEvent?patient=alice", headers=alice)
    assert r.status_code == 200, r.text
    events = [e["resource"] for e in r.json()["entry"]]
    assert [(e["subtype"][0]["code"], e["outcome"]) for e in events] == [
        ("read", "4"), ("search-type", "0"), ("read", "0")]
    assert "bob" not in r.text and "8867-4" not in r.text  # the search named bob and its query: both removed
    search = events[1]
    assert search["entity"] == [e for e in search["entity"] if e["what"] == {"reference": "Patient/alice"}]
    assert search["meta"]["security"][0]["code"] == "REDACTED"
    reader = events[2]["agent"][0]
    assert reader["who"]["reference"] == "Patient/alice" or reader["who"]["identifier"]["value"]
    assert reader["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"

    same = await c.get("/fhir/AuditEvent", headers=alice)  # no parameter: still only her own log
    assert [e["resource"]["id"] for e in same.json()["entry"]][1:] == [e["id"] for e in events]

    others = await c.get("/fhir/AuditEvent?patient=bob", headers=alice)
    assert others.status_code == 200
    assert others.json()["total"] == 0 and not others.json()["entry"]


async def test_patient_token_without_audit_scope_is_refused(secured: Secured) -> None:
    h = secured.headers("patient/Observation.rs", patient="alice")
    r = await secured.client.get("/fhir/AuditEvent?patient=alice", headers=h)
    assert r.status_code == 403
    assert r.json()["resourceType"] == "OperationOutcome"


async def test_staff_with_audit_scope_see_every_event_about_a_patient(secured: Secured) -> None:
    c = secured.client
    clinician = secured.headers("user/*.rs", user="alice-user")
    await c.get("/fhir/Condition/bc", headers=clinician)
    auditor = secured.headers("user/AuditEvent.rs", user="alice-user")
    r = await c.get("/fhir/AuditEvent?patient=bob", headers=auditor)
    assert r.status_code == 200
    (event,) = [e["resource"] for e in r.json()["entry"]]
    assert {"reference": "Condition/bc"} in [e.get("what") for e in event["entity"]]
    assert {"reference": "Patient/bob"} in [e.get("what") for e in event["entity"]]


async def test_patient_reads_one_event_of_their_own_and_no_other(secured: Secured) -> None:
    c = secured.client
    clinician = secured.headers("user/*.rs")
    await c.get("/fhir/Patient/alice", headers=clinician)
    await c.get("/fhir/Patient/bob", headers=clinician)
    auditor = secured.headers("user/AuditEvent.rs")
    (about_bob,) = [e["resource"]["id"] for e in (await c.get("/fhir/AuditEvent?patient=bob", headers=auditor))
                    .json()["entry"]]
    (about_alice,) = [e["resource"]["id"] for e in (await c.get("/fhir/AuditEvent?patient=alice", headers=auditor))
                      .json()["entry"]]
    alice = secured.headers("patient/*.rs", patient="alice")
    r = await c.get(f"/fhir/AuditEvent/{about_alice}", headers=alice)
    assert r.status_code == 200 and r.json()["resourceType"] == "AuditEvent"
    assert (await c.get(f"/fhir/AuditEvent/{about_bob}", headers=alice)).status_code == 404
    assert (await c.get("/fhir/AuditEvent/999999", headers=alice)).status_code == 404
    r = await c.post("/fhir/AuditEvent", headers=secured.headers("user/*.cruds"), json={"resourceType": "AuditEvent"})
    assert r.status_code == 405  # the trail is written by the server only
