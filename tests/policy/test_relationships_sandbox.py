"""The sandbox clinician has patients to see: they are made a member of the first patient's GP practice, so
the relationship rule gives them that practice's registered patients and no others."""

from __future__ import annotations

import asyncio

from caregate.auth.sandbox import CLINICIAN_USER, provision
from caregate.auth.service import AuthService
from caregate.storage import open_store
from caregate.storage.base import Write

RECORDS = [
    {"resourceType": "Patient", "id": "p1", "generalPractitioner": [{"reference": "Organization/practice"}]},
    {"resourceType": "Patient", "id": "p2"},
    {"resourceType": "Practitioner", "id": "gp1"},
    {"resourceType": "Organization", "id": "practice"},
]


def test_the_sandbox_clinician_belongs_to_the_first_patients_practice(database_url: str) -> None:
    async def seed() -> None:
        store = open_store(database_url)
        try:
            await store.transact([Write("update", r["resourceType"], r["id"], r) for r in RECORDS])
        finally:
            await store.close()

    asyncio.run(seed())
    service = AuthService(database_url, "http://127.0.0.1:8080/fhir")
    printed = "\n".join(provision(service, database_url))
    assert "(Practitioner/gp1 at Organization/practice, seeing its registered patients)" in printed
    clinician = service.users.get(CLINICIAN_USER)
    assert clinician is not None and clinician.org == "practice" and clinician.practitioner == "gp1"
