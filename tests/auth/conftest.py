"""An app with authentication on (the default), its authorization server, and two patients' records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from caregate.auth.service import AuthService

BASE = "http://127.0.0.1:8080"
REDIRECT = "https://app.example/callback"
PASSWORD = "correct horse battery staple"
FHIR = f"{BASE}/fhir"


@dataclass
class Secured:
    client: httpx.AsyncClient
    auth: AuthService
    app: Any = None  # the ASGI app, for a second client from another address

    def token(self, scope: str, *, client: str = "app", patient: str | None = None, user: str | None = None,
              lifetime: int = 300) -> str:
        return self.auth.issue(client, scope, user=user, patient=patient, lifetime=lifetime)[0]

    def headers(self, scope: str, **kw: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(scope, **kw)}"}  # type: ignore[arg-type]


def _patient(id_: str, family: str) -> dict:
    return {"resourceType": "Patient", "id": id_, "name": [{"family": family}]}


def _obs(id_: str, patient: str, code: str, category: str = "vital-signs", performer: str | None = None) -> dict:
    obs = {"resourceType": "Observation", "id": id_, "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": category}]}],
           "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
           "subject": {"reference": f"Patient/{patient}"}}
    if performer:
        obs["performer"] = [{"reference": performer}]
    return obs


RECORDS = [
    _patient("alice", "Ashby"), _patient("bob", "Brown"),
    {"resourceType": "Practitioner", "id": "drwho", "name": [{"family": "Who"}]},
    _obs("a1", "alice", "8867-4", performer="Practitioner/drwho"),
    _obs("a2", "alice", "2339-0", category="laboratory"),
    _obs("b1", "bob", "8867-4", performer="Practitioner/drwho"),
    _obs("b2", "bob", "2339-0", category="laboratory"),
    {"resourceType": "Condition", "id": "bc", "subject": {"reference": "Patient/bob"},
     "code": {"text": "secret diagnosis"}},
    {"resourceType": "List", "id": "bl", "status": "current", "mode": "working",
     "subject": {"reference": "Patient/bob"}, "entry": [{"item": {"reference": "Observation/a1"}}]},
]


@pytest.fixture
async def secured(database_url: str) -> AsyncIterator[Secured]:
    from caregate.app import build
    from caregate.config import Settings

    settings = Settings.from_env(env={}, database_url=database_url, port=8080)
    app = build(settings, access_log=False)
    store = app.app.fhir.store
    from caregate.storage.base import Write

    await store.transact([Write("update", r["resourceType"], r["id"], r) for r in RECORDS])
    auth = AuthService(database_url, FHIR)
    auth.clients.add("Test app", "patient/*.cruds user/*.cruds system/*.cruds openid fhirUser launch/patient",
                     client_id="app")
    auth.clients.add("Patient app", "launch/patient openid fhirUser profile offline_access patient/*.rs",
                     client_id="papp", redirect_uris=(REDIRECT,))
    auth.users.add("alice-user", PASSWORD, patient="alice")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield Secured(c, auth, app)
    app.app.fhir.bearer.close()
    await app.app.fhir.subscriptions.service.stop()
    await store.close()
