"""`$explain-access` with real tokens on both engines: an administrator learns, rule by rule and in the words of
`caregate access explain`, why a user's request would be permitted or denied; anyone else gets 403."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from caregate.cli.main import cli
from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio


def _people(secured: Secured) -> dict[str, str]:  # noqa: F811
    users = secured.auth.users
    users.add("root", PASSWORD, roles=("admin",))
    users.add("clerk", PASSWORD, practitioner="drwho", org="A81001", roles=("R8008",))
    users.add("doctor", PASSWORD, practitioner="drwho", org="A81001", roles=("R8000",))
    users.add("rita", PASSWORD, practitioner="drwho", org="A81001", roles=("researcher",))
    return secured.headers("user/AuditEvent.rs", user="root")


def _answer(body: dict) -> tuple[bool, list[str]]:
    values = {p["name"]: p.get("valueBoolean", p.get("valueString")) for p in body["parameter"]}
    steps = [p["valueString"] for p in body["parameter"] if p["name"] == "step"]
    assert values["verdict"] == ("PERMITTED" if values["allowed"] else "DENIED")
    return values["allowed"], steps


async def test_explains_a_denial_by_role(secured: Secured) -> None:  # noqa: F811
    admin = _people(secured)
    r = await secured.client.post("/fhir/$explain-access", headers=admin, json={
        "resourceType": "Parameters", "parameter": [
            {"name": "user", "valueString": "clerk"},
            {"name": "request", "valueString": "GET /fhir/Observation?patient=alice"}]})
    assert r.status_code == 200, r.text
    allowed, steps = _answer(r.json())
    assert not allowed
    assert any("roles.R8008.resources does not allow search on Observation" in s and s.startswith("DENIED")
               for s in steps), steps


async def test_explains_a_permit_with_purpose_and_labels(secured: Secured) -> None:  # noqa: F811
    admin = _people(secured)
    r = await secured.client.get("/fhir/$explain-access", headers=admin,
                                 params={"user": "rita", "request": "GET /fhir/Observation", "purpose": "HRESCH"})
    assert r.status_code == 200, r.text
    allowed, steps = _answer(r.json())
    assert allowed
    assert "Purpose of use: HRESCH." in steps
    assert any(s.startswith("Permitted by the rule roles.researcher") for s in steps)
    assert any(s.startswith("Sensitivity: resources labelled") for s in steps)
    r = await secured.client.get("/fhir/$explain-access", headers=admin,
                                 params={"user": "doctor", "request": "GET /fhir/Patient/alice", "purpose": "ETREAT",
                                         "reason": "collapsed"})
    allowed, steps = _answer(r.json())
    assert allowed and any(s.startswith("Break-glass lifts the labels") for s in steps)


async def test_the_same_words_as_the_command(secured: Secured, database_url: str) -> None:  # noqa: F811
    admin = _people(secured)
    r = await secured.client.get("/fhir/$explain-access", headers=admin,
                                 params={"user": "doctor", "request": "DELETE /fhir/Observation/a1"})
    _allowed, steps = _answer(r.json())
    out = CliRunner().invoke(cli, ["access", "explain", "--database", database_url, "--user", "doctor",
                                   "--request", "DELETE /fhir/Observation/a1"]).output
    assert [line[2:] for line in out.splitlines() if line.startswith("- ")] == steps


async def test_only_administrators_may_ask(secured: Secured) -> None:  # noqa: F811
    _people(secured)
    for headers in (secured.headers("user/*.rs", user="doctor"), secured.headers("system/*.cruds")):
        r = await secured.client.get("/fhir/$explain-access", headers=headers,
                                     params={"user": "clerk", "request": "GET /fhir/Patient"})
        assert r.status_code == 403 and "'admin' role" in r.text


@pytest.mark.parametrize("params, status, where", [
    ({"request": "GET /fhir/Patient"}, 400, "user"),
    ({"user": "clerk"}, 400, "request"),
    ({"user": "clerk", "request": "Patient"}, 400, "request"),
    ({"user": "nobody", "request": "GET /fhir/Patient"}, 404, "user"),
    ({"user": "clerk", "request": "GET /fhir/Patient", "scope": "user/Nope.rs"}, 400, "scope"),
])
async def test_bad_questions_get_an_operation_outcome(secured: Secured, params: dict, status: int,  # noqa: F811
                                                      where: str) -> None:
    admin = _people(secured)
    r = await secured.client.get("/fhir/$explain-access", headers=admin, params=params)
    assert r.status_code == status, r.text
    assert r.json()["resourceType"] == "OperationOutcome" and r.json()["issue"][0]["expression"] == [where]
    r = await secured.client.post("/fhir/$explain-access", headers=admin, json={"resourceType": "Patient"})
    assert r.status_code == 400


async def test_names_the_relationship_found_in_the_record(secured: Secured, database_url: str) -> None:  # noqa: F811
    admin = _people(secured)
    writer = secured.headers("system/*.cruds")
    for resource in (
            {"resourceType": "Organization", "id": "surgery",
             "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A81001"}]},
            {"resourceType": "Patient", "id": "registered",
             "generalPractitioner": [{"reference": "Organization/surgery"}]},
            {"resourceType": "Patient", "id": "stranger"}):
        r = await secured.client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", headers=writer,
                                     json=resource)
        assert r.status_code in (200, 201), r.text
    r = await secured.client.get("/fhir/$explain-access", headers=admin,
                                 params={"user": "doctor", "request": "GET /fhir/Patient/registered"})
    allowed, steps = _answer(r.json())
    assert allowed
    assert any(s.startswith("Relationship with Patient/registered: the patient is registered") for s in steps)
    r = await secured.client.get("/fhir/$explain-access", headers=admin,
                                 params={"user": "doctor", "request": "GET /fhir/Patient/stranger"})
    allowed, steps = _answer(r.json())
    assert not allowed and any(s.startswith("No relationship with Patient/stranger") for s in steps)
    assert steps[-1] == "DENIED: the resource is out of this user's reach (answered 404, as if it did not exist)."
    out = (await asyncio.to_thread(  # the command runs an event loop of its own, as it does from a shell
        CliRunner().invoke, cli, ["access", "explain", "--database", database_url, "--user", "doctor", "--request",
                                  "GET /fhir/Patient/stranger"])).output
    assert [line[2:] for line in out.splitlines() if line.startswith("- ")] == steps
