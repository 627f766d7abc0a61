"""Who a Subscription answers to: the actor that wrote it, recorded in the resource by the server.

A subscription's notifications carry only what its owner could read (caregate.subscriptions.access), so the
owner must be known wherever events are derived, after a restart and in every worker: it is written into the
Subscription itself, as the extension `OWNER` (subject, client, granted scopes, launch patient, fhirUser,
purpose of use, roles, organisation). Every write of a Subscription through the API records its writer
afresh and drops whatever owner a client put there, so an owner cannot be claimed, only be. A write made
with break-glass (ETREAT) records direct care (TREAT): break-glass is one request's exception, not a
standing right to be told.
"""

from __future__ import annotations

from caregate.errors import FhirError
from caregate.interactions.context import RequestContext
from caregate.policy import Actor
from caregate.policy.purpose import BREAK_GLASS

OWNER = "https://caregate.invalid/fhir/StructureDefinition/subscription-owner"
# Basic records only the server writes: break-glass access records (subscriptions/breakglass.py), which raise
# notifications, and the subscriptions' runtime state (delivery checkpoints, websocket binding tokens).
ACCESS_EVENTS = "https://caregate.invalid/fhir/CodeSystem/access-event"
RUNTIME = "https://caregate.invalid/fhir/CodeSystem/subscription-runtime"
SERVER_ONLY = frozenset({ACCESS_EVENTS, RUNTIME})


def server_fields(ctx: RequestContext, resource: dict) -> None:
    """What only the server may write, applied to a resource a client is writing: its records are refused
    (403), and a Subscription gets its owner recorded."""
    if resource.get("resourceType") == "Basic":
        code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
        assert isinstance(code, dict)
        for coding in code.get("coding") or ():
            if isinstance(coding, dict) and coding.get("system") in SERVER_ONLY:
                raise FhirError("forbidden", f"Basic resources coded in {coding['system']} are written by the "
                                             "server only.")
    record_owner(ctx, resource)


def record_owner(ctx: RequestContext, resource: dict) -> None:
    """Put the request's actor into a Subscription about to be written (no actor: no owner)."""
    if resource.get("resourceType") != "Subscription":
        return
    found = resource.get("extension")
    if found is not None and not isinstance(found, list):
        return  # malformed: validation says so
    kept = [e for e in found or () if not (isinstance(e, dict) and e.get("url") == OWNER)]
    if ctx.actor is not None:
        purpose = "TREAT" if ctx.purpose == BREAK_GLASS else ctx.purpose
        kept.append(owner_extension(ctx.actor, purpose))
    if kept:
        resource["extension"] = kept
    else:
        resource.pop("extension", None)


def owner_extension(actor: Actor, purpose: str) -> dict:
    parts: list[dict] = [{"url": "subject", "valueString": actor.subject},
                         {"url": "client", "valueString": actor.client_id},
                         {"url": "scope", "valueString": actor.scope_string},
                         {"url": "purpose", "valueCode": purpose}]
    for name, value in (("patient", actor.patient), ("fhirUser", actor.fhir_user), ("org", actor.org)):
        if value:
            parts.append({"url": name, "valueString": value})
    parts += [{"url": "role", "valueCode": role} for role in actor.roles]
    return {"url": OWNER, "extension": parts}


def read_owner(resource: dict) -> tuple[Actor, str] | None:
    """(owner, purpose of use) recorded in a stored Subscription; None when it has none."""
    for ext in resource.get("extension") or ():
        if isinstance(ext, dict) and ext.get("url") == OWNER:
            return _owner(ext)
    return None


def _owner(ext: dict) -> tuple[Actor, str]:
    values: dict[str, list[str]] = {}
    for part in ext.get("extension") or ():
        if isinstance(part, dict) and isinstance(part.get("url"), str):
            value = part.get("valueString", part.get("valueCode"))
            if isinstance(value, str):
                values.setdefault(part["url"], []).append(value)

    def one(name: str) -> str | None:
        return values.get(name, [None])[0]

    actor = Actor.from_scope_string(one("subject") or "", one("client") or "", one("scope") or "",
                                    patient=one("patient"), fhir_user=one("fhirUser"),
                                    roles=tuple(values.get("role", ())), org=one("org"))
    return actor, one("purpose") or "TREAT"
