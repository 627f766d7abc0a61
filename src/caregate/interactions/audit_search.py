"""`GET [base]/AuditEvent?patient=X`: the access log of a patient's record ("who looked at my record").

AuditEvents live in the audit chain's own table, not in the resource store, so this search answers only
`patient`, `_id`, `_count` and `_sort=-date` (newest first, the only order offered). A reader confined to one
patient (a `patient/` token) sees only the events naming that patient, and in each of them only the entity
naming them: the other patients a clinician's search touched, the resources and the query are removed and the
event carries the REDACTED security label.
"""

from __future__ import annotations

import asyncio

from caregate.audit import AuditLog
from caregate.errors import FhirError, incorrect
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import UNBOUNDED, forbidden, permit, viewer, visible

REDACTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "REDACTED",
            "display": "redacted"}
_ALLOWED = {"patient", "_id", "_count", "_sort", "_format", "_pretty"}


async def search_audit(ctx: RequestContext, log: AuditLog, params: list[tuple[str, str]]) -> Result:
    decision = permit(ctx, "AuditEvent", "search-type")
    patient: str | None = None
    count = ctx.page_default
    ids: list[int] | None = None
    for name, value in params:
        if name not in _ALLOWED:
            raise incorrect(f"AuditEvent search supports patient, _id, _count and _sort=-date; not {name!r}.",
                            name)
        if name == "patient":
            patient = value.removeprefix("Patient/")
            if not patient or "," in patient or "/" in patient:
                raise incorrect("patient takes one patient id.", "patient")
        elif name == "_id":
            wanted = [int(v) for v in value.split(",") if v.isdigit() and len(v) <= 18]  # ids are sequence numbers
            ids = wanted if ids is None else [i for i in ids if i in wanted]
        elif name == "_count":
            if not value.isdigit():
                raise incorrect("_count must be a whole number.", "_count")
            count = min(int(value), ctx.page_max)
        elif name == "_sort" and value != "-date":
            raise incorrect("AuditEvent search is sorted newest first (_sort=-date) only.", "_sort")
    own = decision.patient
    if own is not None:
        if patient is None:
            patient = own
        elif patient != own:  # another patient's log does not exist for this reader
            return Result(body=_bundle(ctx, 0, []))
    if viewer(ctx, decision) is not None:  # staff read the logs of the patients within their reach only
        if patient is None:
            raise forbidden("A member of staff reads one patient's access log at a time: give patient=.")
        if not await visible(ctx, UNBOUNDED, "Patient", patient):
            return Result(body=_bundle(ctx, 0, []))
    total, events = await asyncio.to_thread(log.about, patient, count, ids)
    if own is not None:
        events = [_redact(e, own) for e in events]
    return Result(body=_bundle(ctx, total, events))


async def read_audit(ctx: RequestContext, log: AuditLog, id_: str) -> Result:
    """One AuditEvent by id; a reader confined to a patient finds only the events naming that patient."""
    decision = permit(ctx, "AuditEvent", "read")
    event = await asyncio.to_thread(log.get, id_)
    own = decision.patient
    if event is not None and own is not None:
        if not any(e.get("what", {}).get("reference") == f"Patient/{own}" for e in event.get("entity", ())):
            event = None
        else:
            event = _redact(event, own)
    if event is not None and viewer(ctx, decision) is not None:  # staff: every patient it names within reach
        named = {e["what"]["reference"].removeprefix("Patient/") for e in event.get("entity", ())
                 if str(e.get("what", {}).get("reference", "")).startswith("Patient/")}
        if not named or not all([await visible(ctx, UNBOUNDED, "Patient", p) for p in sorted(named)]):
            event = None
    if event is None:
        raise FhirError("not-found", f"AuditEvent/{id_} is not known.")
    return Result(body=event)


def _redact(event: dict, patient: str) -> dict:
    kept = [e for e in event.get("entity", ()) if e.get("what", {}).get("reference") == f"Patient/{patient}"]
    if len(kept) != len(event.get("entity", ())):
        event = {**event, "entity": kept, "meta": {"security": [REDACTED]}}
    return event


def _bundle(ctx: RequestContext, total: int, events: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": total,
            "entry": [{"fullUrl": f"{ctx.base_url}/AuditEvent/{e['id']}", "resource": e,
                       "search": {"mode": "match"}} for e in events]}
