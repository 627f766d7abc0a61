"""Break-glass access as an event other components can subscribe to (topic `break-glass-access`).

When a request is made with purpose ETREAT (emergency treatment, "break-glass", caregate.policy.purpose), the
server writes one record per patient the request touched, before answering it: a `Basic` resource (code
`break-glass` of `ACCESS_EVENTS`) naming the patient (`subject`), the actor (`author`: their fhirUser, their
subject identifier and client), the reason they gave, when, which request, and its HTTP status. The record
is an ordinary write, so it is in the change log like every other: the `break-glass-access` topic's events
come from it with the same guarantees (durable, numbered, replayable with `$events`), and no request made
under break-glass is answered unless its record is stored, but for a write that has committed: it is answered
as done whatever happens to its record here, since its AuditEvent, flagged break-glass with the reason, was
committed with it (caregate.audit.log on the outbox). Clients cannot write such records themselves
(caregate.interactions.owner).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from caregate.interactions.owner import ACCESS_EVENTS
from caregate.policy import Actor
from caregate.storage.base import ResourceStore, Write

__all__ = ["ACCESS_EVENTS", "record", "store_records"]
EXT = "https://caregate.invalid/fhir/StructureDefinition/break-glass-"
SUBJECT = "urn:ietf:params:oauth:sub"


def record(actor: Actor | None, reason: str, patients: Sequence[str], recorded: str, request: str,
           status: int) -> list[dict]:
    """The Basic records of one break-glass request: one per patient (one without subject when none)."""
    author: dict = {"display": "unauthenticated"}
    if actor is not None:
        author = {"identifier": {"system": SUBJECT, "value": actor.subject},
                  "display": f"{actor.subject} (client {actor.client_id})"}
        if actor.fhir_user:
            author["reference"] = actor.fhir_user
    extensions = [{"url": EXT + "reason", "valueString": reason},
                  {"url": EXT + "time", "valueInstant": recorded},
                  {"url": EXT + "request", "valueString": request},
                  {"url": EXT + "status", "valueString": str(status)}]
    out = []
    for patient in list(patients) or [None]:
        body: dict = {"resourceType": "Basic", "id": str(uuid.uuid4()), "extension": extensions,
                      "code": {"coding": [{"system": ACCESS_EVENTS, "code": "break-glass",
                                           "display": "Break-glass access"}]},
                      "created": recorded[:10], "author": author}
        if patient is not None:
            body["subject"] = {"reference": f"Patient/{patient}"}
        out.append(body)
    return out


async def store_records(store: ResourceStore, records: list[dict]) -> None:
    await store.transact([Write("create", "Basic", r["id"], r) for r in records])
