"""An AuditEvent waiting in the outbox: the note a write commits with itself, chained later by the audit log.

A write's record is made inside the write's own database transaction (caregate.storage.outbox), so the write
and its record commit together; the audit log then moves the note into the hash chain (caregate.audit.log).
The note holds the event without its id (the chain gives it its sequence number) and the patients it names.
"""

from __future__ import annotations

import orjson

TOPIC = "audit"


def note(event: dict, patients: list[str]) -> bytes:
    return orjson.dumps({"event": event, "patients": patients})


def read_note(body: bytes) -> tuple[dict, list[str]]:
    data = orjson.loads(body)
    return data["event"], list(data["patients"])
