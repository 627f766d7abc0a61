"""Every FHIR interaction writes one AuditEvent, permit or deny, and `AuditEvent?patient=` finds them."""

from __future__ import annotations

import base64

import httpx
import pytest
from click.testing import CliRunner

from caregate.cli.main import cli

pytestmark = pytest.mark.anyio


async def _log(client: httpx.AsyncClient, patient: str) -> list[dict]:
    r = await client.get(f"/fhir/AuditEvent?patient={patient}&_count=100")
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


def _codes(event: dict) -> tuple[str, str, str]:
    return event["subtype"][0]["code"], event["action"], event["outcome"]


async def test_reads_searches_writes_and_refusals_are_audited(client: httpx.AsyncClient, database_url: str) -> None:
    patient = {"resourceType": "Patient", "id": "ann", "name": [{"family": "Ashby"}]}
    assert (await client.put("/fhir/Patient/ann", json=patient)).status_code == 201
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "pulse"},
           "subject": {"reference": "Patient/ann"}}
    assert (await client.post("/fhir/Observation", json=obs, headers={"Prefer": "return=minimal"})).status_code == 201
    glass = {"X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": "collapsed in A&E"}
    assert (await client.get("/fhir/Patient/ann", headers=glass)).status_code == 200
    assert (await client.get("/fhir/Observation?code:text=pulse")).status_code == 200
    assert (await client.get("/fhir/Observation?subject=Patient/ann&bad-param=1",
                             headers={"Prefer": "handling=strict"})).status_code == 400
    assert (await client.get("/fhir/Patient/nobody")).status_code == 404

    events = await _log(client, "ann")
    newest_first = [_codes(e) for e in events]
    assert newest_first == [("search-type", "E", "4"), ("search-type", "E", "0"), ("read", "R", "0"),
                            ("create", "C", "0"), ("update", "U", "0")]
    search = events[1]
    query = next(e["query"] for e in search["entity"] if "query" in e)
    assert base64.b64decode(query).decode() == "code%3Atext=pulse"  # found the patient through its results
    read = events[2]
    assert read["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "ETREAT"
    assert {"reference": "Patient/ann"} in [e.get("what") for e in read["entity"]]
    assert read["type"]["code"] == "rest" and read["recorded"].endswith("Z")
    assert events[4]["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"  # the default
    assert [_codes(e) for e in await _log(client, "nobody")] == [("read", "R", "4")]  # the 404 is audited
    by_id = (await client.get(f"/fhir/AuditEvent?_id={read['id']}")).json()
    assert [e["resource"]["id"] for e in by_id["entry"]] == [read["id"]]

    result = CliRunner().invoke(cli, ["audit", "verify", "--database", database_url])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


async def test_bad_audit_search_is_an_operation_outcome(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/AuditEvent?date=2026")
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["date"]
    r = await client.get("/fhir/AuditEvent?_count=many")
    assert r.status_code == 400
