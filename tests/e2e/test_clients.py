"""Real FHIR client libraries, used as their users use them, against `caregate serve` over a socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.server import Server


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path):
    s = Server(sqlite_url, tmp_path / "server.log")
    yield s
    s.stop()


def test_fhirpy_crud_search_page_transact(server: Server) -> None:
    from fhirpy import SyncFHIRClient

    client = SyncFHIRClient(server.base)
    patient = client.resource("Patient", name=[{"family": "Okafor", "given": ["Chidi"]}], gender="male",
                              birthDate="1990-02-03")
    patient.save()
    assert patient.id
    fetched = client.reference("Patient", patient.id).to_resource()
    assert fetched["name"][0]["family"] == "Okafor"

    fetched["gender"] = "other"
    fetched.save()
    assert client.reference("Patient", patient.id).to_resource()["gender"] == "other"

    for i in range(25):
        client.resource("Observation", status="final", code={"text": f"reading {i}"},
                        subject={"reference": f"Patient/{patient.id}"}).save()
    found = client.resources("Patient").search(family="okaf").fetch()
    assert [p.id for p in found] == [patient.id]
    everything = client.resources("Observation").search(subject=f"Patient/{patient.id}").limit(10).fetch_all()
    assert len(everything) == 25
    assert client.resources("Observation").search(subject=f"Patient/{patient.id}").count() == 25

    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:a", "resource": {"resourceType": "Patient", "name": [{"family": "Txn"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "t"},
                      "subject": {"reference": "urn:uuid:a"}}, "request": {"method": "POST", "url": "Observation"}},
    ]}
    response = client.execute("", method="post", data=bundle)
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created", "201 Created"]

    fetched.delete()
    assert client.resources("Patient").search(_id=patient.id).fetch() == []


def test_fhirclient_crud_and_search(server: Server) -> None:
    from fhirclient import client
    from fhirclient.models.patient import Patient

    smart = client.FHIRClient(settings={"app_id": "caregate-tests", "api_base": server.base})
    p = Patient({"name": [{"family": "Nowak", "given": ["Zofia"]}], "gender": "female"})
    created = p.create(smart.server)
    pid = created["id"]
    read = Patient.read(pid, smart.server)
    assert read.name[0].family == "Nowak"
    read.gender = "unknown"
    read.update(smart.server)
    assert Patient.read(pid, smart.server).gender == "unknown"
    results = Patient.where(struct={"family": "nowak"}).perform_resources(smart.server)
    assert [r.id for r in results] == [pid]
    read.delete(smart.server)
    assert Patient.where(struct={"family": "nowak"}).perform_resources(smart.server) == []
