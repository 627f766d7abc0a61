"""Each notification that carries events is audited like an interaction, when the audit log is on.

A notification discloses the events' resources to the subscriber as a read would, so it leaves the same kind
of record (caregate.audit, https://hl7.org/fhir/R4/auditevent.html): the subscription's owner as the agent,
with the purpose recorded for it, the patients whose resources the events concern, the Subscription as the
object, and in words which events went over which channel. Heartbeats and handshakes carry no data and are
not recorded. The record follows the delivery without holding it up (a process killed in between loses
it); a record that cannot be written is logged, never retried into a second delivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from caregate.audit.event import Access, audit_event
from caregate.subscriptions.bundles import now_instant
from caregate.subscriptions.events import Event
from caregate.subscriptions.model import Spec

log = logging.getLogger("caregate.subscriptions")


class Recorder(Protocol):
    async def record(self, event: dict, patients: list[str]) -> None: ...


def record_delivery(audit: Recorder | None, source: str, spec: Spec, events: Sequence[Event]) -> None:
    """Queue the record of a delivered notification; delivery does not wait for its commit, so records of
    many notifications share the audit log's commits (its group commit) instead of costing one each."""
    if audit is None or not events:
        return
    actor, purpose = spec.owner if spec.owner is not None else (None, "TREAT")
    patients = sorted({p for e in events for p in e.patients})
    first, last = events[0].number, events[-1].number
    facts = Access("operation", 200, now_instant(), actor, purpose, patients, f"Subscription/{spec.id}",
                   description=f"{spec.channel} notification of events {first}-{last} ({spec.content})")
    task = asyncio.create_task(_record(audit, audit_event(facts, source), patients, spec.id))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


_pending: set[asyncio.Task] = set()  # records being written (held so that they are not collected midway)


async def _record(audit: Recorder, event: dict, patients: list[str], sub_id: str) -> None:
    try:
        await audit.record(event, patients)
    except Exception:
        log.exception("notification audit record not written", extra={"fields": {"subscription": sub_id}})
