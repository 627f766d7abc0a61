"""The `fhirclient` SMART package completes a standalone patient launch against a real `caregate serve`: it
reads the endpoints from the CapabilityStatement, the user signs in through the HTML forms (driven with httpx as
a browser without JavaScript), and the app reads the patient's record with the token it got."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fhirclient import client as smart_client
from fhirclient.models.observation import Observation

from tests.auth.flow import hidden_fields
from tests.auth.live import LiveServer

REDIRECT = "http://localhost:9/callback"


@pytest.fixture
def server(tmp_path: Path, sqlite_url: str) -> Iterator[LiveServer]:
    from caregate.auth.service import AuthService
    from caregate.storage import open_store
    from caregate.storage.base import Write

    store = open_store(sqlite_url)
    store.transact_sync([
        Write("update", "Patient", "alice", {"resourceType": "Patient", "id": "alice", "name": [{"family": "Ashby"}]}),
        Write("update", "Patient", "bob", {"resourceType": "Patient", "id": "bob", "name": [{"family": "Brown"}]}),
        Write("update", "Observation", "o1", {"resourceType": "Observation", "id": "o1", "status": "final",
                                              "code": {"text": "pulse"}, "subject": {"reference": "Patient/alice"}}),
        Write("update", "Observation", "o2", {"resourceType": "Observation", "id": "o2", "status": "final",
                                              "code": {"text": "pulse"}, "subject": {"reference": "Patient/bob"}}),
    ])
    import asyncio

    asyncio.run(store.close())
    live = LiveServer(sqlite_url, tmp_path / "server.log")
    auth = AuthService(sqlite_url, live.base)
    auth.clients.add("Health app", "launch/patient openid fhirUser offline_access patient/*.rs", client_id="health-app",
                     redirect_uris=(REDIRECT,))
    auth.users.add("alice", "a long enough password", patient="alice")
    try:
        yield live
    finally:
        live.stop()


def test_fhirclient_standalone_launch(server: LiveServer) -> None:
    smart = smart_client.FHIRClient(settings={
        "app_id": "health-app", "api_base": server.base, "redirect_uri": REDIRECT,
        "scope": "launch/patient openid fhirUser offline_access patient/*.rs"})
    authorize_url = smart.authorize_url
    assert authorize_url.startswith(f"{server.root}/auth/authorize?")
    with httpx.Client(base_url=server.root) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200
        consent = browser.post("/auth/authorize", data={**hidden_fields(page.text), "username": "alice",
                                                         "password": "a long enough password"})
        assert "Read, search all kinds of data in your own record" in consent.text
        done = browser.post("/auth/consent", data={**hidden_fields(consent.text), "decision": "allow"})
        assert done.status_code == 303
    smart.handle_callback(done.headers["location"])
    assert smart.ready
    assert smart.patient_id == "alice"
    assert smart.patient.name[0].family == "Ashby"
    found = Observation.where(struct={}).perform_resources(smart.server)
    assert [o.id for o in found] == ["o1"]
    assert smart.server.reauthorize() is not None  # refresh token rotation through the client
