"""Sandbox accounts: on a fresh database, a patient user, a clinician user and a backend client, so a newcomer
can sign in and get tokens at once. Their secrets are returned for the terminal, never logged."""

from __future__ import annotations

import asyncio
import json
import secrets

from joserfc import jwk

from caregate.auth.service import AuthService
from caregate.search.query import SearchQuery
from caregate.storage import open_store

PATIENT_USER = "sandbox-patient"
CLINICIAN_USER = "sandbox-clinician"
BACKEND_CLIENT = "sandbox-backend"


def _first_ids(database_url: str) -> tuple[str | None, str | None, str | None]:
    """The first Patient and Practitioner, and the patient's GP practice (an Organization id), which the
    clinician is made a member of, so that they have patients to see (staff need a relationship)."""
    async def first() -> tuple[str | None, str | None, str | None]:
        store = open_store(database_url)
        try:
            found, practice = [], None
            for type_ in ("Patient", "Practitioner"):
                query = SearchQuery(type_)
                query.total = "none"
                page = await store.search(query, 1)
                found.append(page.items[0].id if page.items else None)
                if type_ == "Patient" and page.items:
                    gps = json.loads(page.items[0].json).get("generalPractitioner") or []
                    refs = [g.get("reference", "") for g in gps if isinstance(g, dict)]
                    practice = next((r.split("/", 1)[1] for r in refs if r.startswith("Organization/")), None)
            return found[0], found[1], practice
        finally:
            await store.close()

    return asyncio.run(first())


def provision(service: AuthService, database_url: str) -> list[str]:
    """Create the sandbox accounts when the database has no users yet; the lines to print (else none)."""
    if service.users.list():
        return []
    patient, practitioner, practice = _first_ids(database_url)
    lines = ["Sandbox accounts (shown once; they are not in the logs):"]
    if patient:
        password = secrets.token_urlsafe(9)
        service.users.add(PATIENT_USER, password, patient=patient)
        lines.append(f"  patient user    {PATIENT_USER} / {password}  (Patient/{patient})")
    password = secrets.token_urlsafe(9)
    service.users.add(CLINICIAN_USER, password, practitioner=practitioner, org=practice if practitioner else None,
                      roles=("R8000",))
    lines.append(f"  clinician user  {CLINICIAN_USER} / {password}"
                 + (f"  (Practitioner/{practitioner}" if practitioner else "")
                 + (f" at Organization/{practice}, seeing its registered patients)" if practitioner and practice
                    else ")" if practitioner else ""))
    if service.clients.get(BACKEND_CLIENT) is None:
        key = jwk.ECKey.generate_key("P-384", parameters={"kid": secrets.token_urlsafe(8), "alg": "ES384"})
        public = {"keys": [dict(key.as_dict(private=False))]}
        service.clients.add("Sandbox backend service", "system/*.cruds", client_id=BACKEND_CLIENT, jwks=public)
        lines.append(f"  backend client  {BACKEND_CLIENT}  (private_key_jwt, ES384) private key:")
        lines.append("    " + json.dumps(dict(key.as_dict(private=True))))
    lines.append(f"  a token at once: caregate token issue --client {BACKEND_CLIENT} --scope 'system/*.rs'")
    return lines
