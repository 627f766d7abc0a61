"""`caregate access explain` names the relationship and the Consent rule that decide, found in the record."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from caregate.cli.main import cli
from caregate.storage import open_store
from caregate.storage.base import Write

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
RECORDS = [
    {"resourceType": "Organization", "id": "surgery", "identifier": [{"system": ODS, "value": "A81001"}]},
    {"resourceType": "Patient", "id": "1", "generalPractitioner": [{"reference": "Organization/surgery"}]},
    {"resourceType": "Patient", "id": "2"},
    {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/1"},
     "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}},
    {"resourceType": "Consent", "id": "c1", "status": "active", "patient": {"reference": "Patient/1"},
     "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                           "code": "patient-privacy"}]},
     "provision": {"type": "permit", "provision": [
         {"type": "deny", "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}]}]}},
]


def _seed(database_url: str) -> None:
    async def run() -> None:
        store = open_store(database_url)
        try:
            await store.transact([Write("update", r["resourceType"], r["id"], r) for r in RECORDS])
        finally:
            await store.close()

    asyncio.run(run())
    result = CliRunner().invoke(cli, ["users", "add", "dr", "--password-stdin", "--database", database_url,
                                      "--practitioner", "p1", "--org", "A81001"], input="a long enough password 1\n")
    assert result.exit_code == 0, result.output


def _explain(database_url: str, request: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["access", "explain", "--database", database_url, "--user", "dr",
                                      "--request", request, *args])
    return result.exit_code, result.output


def test_explain_names_the_deciding_relationship_and_consent_rule(database_url: str) -> None:
    _seed(database_url)
    code, out = _explain(database_url, "GET /fhir/Patient/1")
    assert code == 0, out
    assert "Relationship with Patient/1: the patient is registered with them or their GP practice" in out
    assert "Consent/c1 does not withhold Patient/1 from this user for TREAT." in out

    code, out = _explain(database_url, "GET /fhir/Observation/o1")
    assert code == 1, out
    assert "Consent/c1 withholds Observation/o1 from this user for TREAT: provision 1 (deny: class Observation)" \
        in out
    assert out.rstrip().endswith("DENIED")

    code, out = _explain(database_url, "GET /fhir/Observation?patient=1")
    assert code == 0 and "Consent/c1 withholds Observation from this user for TREAT" in out

    code, out = _explain(database_url, "GET /fhir/Patient/2")
    assert code == 1 and "No relationship with Patient/2" in out and "answered 404" in out

    code, out = _explain(database_url, "GET /fhir/Observation?patient=2")
    assert code == 0 and "No relationship with Patient/2" in out and "searches leave it out" in out

    code, out = _explain(database_url, "GET /fhir/Observation/o1", "--purpose", "ETREAT", "--reason", "arrest")
    assert code == 0, out
    assert "Break-glass (ETREAT) lifts the relationship requirement" in out
    assert "Break-glass (ETREAT) goes beyond the patients' privacy Consents" in out
