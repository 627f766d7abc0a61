"""A batch that cannot be written fails the requests waiting on it (no audit record, no response), and the
log goes on: the next batch commits and the chain still verifies."""

from __future__ import annotations

import asyncio

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


async def test_a_big_batch_commits_whole_or_fails_whole(database_url: str) -> None:
    """Twenty requests at once form one big batch (on SQLite committed in a thread, beside the event loop, once
    this process has seen that it is the chain's only writer: after two batches of its own in a row)."""
    log = AuditLog(database_url)
    try:
        for first in ("a", "b"):
            await log.record(_event(first), [first])
        await asyncio.gather(*(log.record(_event(f"p{i}"), [f"p{i}"]) for i in range(20)))
        assert log.verify() == (22, None)
        assert all(log.about(f"p{i}", 1)[0] == 1 for i in range(20))
        outcomes = await asyncio.gather(*(log.record(_event(f"q{i}", **({"note": object()} if i == 5 else {})),
                                                     [f"q{i}"]) for i in range(20)), return_exceptions=True)
        assert all(isinstance(o, TypeError) for o in outcomes)  # one bad record: none of its batch is written
        await log.record(_event("after"), ["after"])
        assert log.verify() == (23, None)
        assert log.about("q0", 1)[0] == 0 and log.about("after", 1)[0] == 1
    finally:
        log.close()
