"""A batch that cannot be written fails the requests waiting on it (no audit record, no response), and the
log goes on: the next batch commits and the chain still verifies."""

from __future__ import annotations

import pytest

from caregate.audit import AuditLog

pytestmark = pytest.mark.anyio


def _event(patient: str, **extra: object) -> dict:
    return {"resourceType": "AuditEvent", "recorded": "2026-01-01T00:00:00.000Z", "action": "R", "outcome": "0",
            "entity": [{"what": {"reference": f"Patient/{patient}"}}], **extra}


async def test_a_failed_batch_fails_its_requests_and_the_next_one_commits(database_url: str) -> None:
    log = AuditLog(database_url)
    try:
        await log.record(_event("first"), ["first"])
        with pytest.raises(TypeError):  # cannot be serialised: the transaction is rolled back
            await log.record(_event("lost", note=object()), ["lost"])
        await log.record(_event("next"), ["next"])
        assert log.verify() == (2, None)
        assert log.about("lost", 10) == (0, [])
        total, events = log.about("next", 10)
        assert total == 1 and events[0]["id"] == "2"
    finally:
        log.close()
