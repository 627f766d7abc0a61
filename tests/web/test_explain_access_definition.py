"""`$explain-access` is declared like any operation: the CapabilityStatement lists it at the system level with
the canonical of its OperationDefinition, and that definition reads back at that url, valid FHIR R4, with the
parameters the operation really takes and answers."""

from __future__ import annotations

import pytest

from caregate.fhir.validate import validate
from tests.auth.conftest import FHIR, PASSWORD, Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_capability_statement_lists_explain_access_with_its_definition(secured: Secured) -> None:  # noqa: F811
    cs = (await secured.client.get("/fhir/metadata")).json()
    operations = cs["rest"][0]["operation"]
    assert operations == [{"name": "explain-access", "definition": f"{FHIR}/OperationDefinition/explain-access"}]


async def test_definition_reads_back_valid_and_describes_the_operation(secured: Secured) -> None:  # noqa: F811
    cs = (await secured.client.get("/fhir/metadata")).json()
    url = cs["rest"][0]["operation"][0]["definition"]
    r = await secured.client.get("/fhir" + url.removeprefix(FHIR),
                                 headers=secured.headers("system/*.rs"))
    assert r.status_code == 200, r.text
    od = r.json()
    assert od["resourceType"] == "OperationDefinition" and od["url"] == url and od["id"] == "explain-access"
    assert [i for i in validate(od) if i.severity in ("error", "fatal")] == []
    assert (od["code"], od["system"], od["type"], od["instance"], od["affectsState"]) == (
        "explain-access", True, False, False, False)
    params = {(p["use"], p["name"]): (p["min"], p["max"], p["type"]) for p in od["parameter"]}
    assert params == {
        ("in", "user"): (1, "1", "string"), ("in", "request"): (1, "1", "string"),
        ("in", "purpose"): (0, "1", "code"), ("in", "reason"): (0, "1", "string"),
        ("in", "scope"): (0, "1", "string"),
        ("out", "allowed"): (1, "1", "boolean"), ("out", "verdict"): (1, "1", "string"),
        ("out", "request"): (1, "1", "string"), ("out", "step"): (0, "*", "string")}


async def test_the_operation_answers_with_the_declared_out_parameters(secured: Secured) -> None:  # noqa: F811
    secured.auth.users.add("root", PASSWORD, roles=("admin",))
    definition = (await secured.client.get("/fhir/OperationDefinition/explain-access",
                                           headers=secured.headers("system/*.rs"))).json()
    declared = {p["name"]: p for p in definition["parameter"] if p["use"] == "out"}
    admin = secured.headers("user/AuditEvent.rs", user="root")
    for request in (secured.client.get("/fhir/$explain-access", headers=admin,
                                       params={"user": "alice-user", "request": "GET /fhir/Patient/alice"}),
                    secured.client.post("/fhir/$explain-access", headers=admin, json={
                        "resourceType": "Parameters", "parameter": [
                            {"name": "user", "valueString": "alice-user"},
                            {"name": "request", "valueString": "GET /fhir/Patient/bob"},
                            {"name": "purpose", "valueCode": "TREAT"}]})):
        r = await request
        assert r.status_code == 200, r.text
        answered = [p["name"] for p in r.json()["parameter"]]
        assert set(answered) <= set(declared)
        for name, p in declared.items():
            assert p["min"] <= answered.count(name) and (p["max"] == "*" or answered.count(name) <= int(p["max"]))
