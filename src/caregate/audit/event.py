"""Building the FHIR R4 AuditEvent for one REST interaction (https://hl7.org/fhir/R4/auditevent.html).

The web layer knows who asked and what came back; this module only turns those facts into the resource, so
that the shape of an audit record is decided in one place.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from caregate.policy import Actor

EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
PURPOSE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
ENTITY_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
CLIENT_ID = "urn:ietf:params:oauth:client-id"
SUBJECT = "urn:ietf:params:oauth:sub"

# AuditEvent.action (audit-event-action): C, R, U, D, or E for searches, operations and other functions.
ACTIONS = {"create": "C", "read": "R", "vread": "R", "update": "U", "patch": "U", "delete": "D"}


@dataclass(slots=True)
class Access:
    """The facts of one interaction, gathered by the web layer."""

    interaction: str  # a restful-interaction code: read, search-type, create, operation ...
    status: int  # the HTTP status answered
    recorded: str  # when, as a FHIR instant
    actor: Actor | None = None  # None: no token (anonymous, or authentication off)
    purpose: str | None = "TREAT"  # v3 PurposeOfUse; None when the request was refused before it was accepted
    patients: list[str] = field(default_factory=list)  # ids of every patient whose data was touched
    what: str | None = None  # `Type/id` of the resource concerned
    query: str | None = None  # the search query string, for searches
    address: str | None = None  # the client's network address
    description: str | None = None  # what was asked, in words (method and path, no query values)
    break_glass_reason: str | None = None  # why emergency access (purpose ETREAT) was asserted


def outcome_code(status: int) -> str:
    """0 success, 4 minor failure (the request was refused or wrong), 8 serious failure (the server failed)."""
    return "0" if status < 400 else "4" if status < 500 else "8"


def audit_event(access: Access, source: str) -> dict:
    """The AuditEvent resource (without id) for `access`, observed by the server named `source`."""
    event: dict = {
        "resourceType": "AuditEvent",
        "type": {"system": EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": INTERACTION, "code": access.interaction}],
        "action": ACTIONS.get(access.interaction, "E"),
        "recorded": access.recorded,
        "outcome": outcome_code(access.status),
        "outcomeDesc": f"HTTP {access.status}",
        "agent": [{k: v for k, v in agent.items() if v is not None} for agent in _agents(access)],
        "source": {"observer": {"display": source},
                   "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}]},
    }
    entities = [{"what": {"reference": f"Patient/{p}"},
                 "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                 "role": {"system": ENTITY_ROLE, "code": "1", "display": "Patient"}} for p in access.patients]
    if access.what is not None:
        entities.append({"what": {"reference": access.what},
                         "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"}})
    if access.query is not None:
        entities.append({"type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                         "role": {"system": ENTITY_ROLE, "code": "24", "display": "Query"},
                         "query": base64.b64encode(access.query.encode()).decode()})
    if access.description:
        entities.append({"description": access.description,
                         "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"}})
    if access.break_glass_reason is not None:  # flagged: the event's own purpose and the reason given
        event["purposeOfEvent"] = [{"coding": [{"system": PURPOSE, "code": access.purpose}]}]
        entities.append({"type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                         "description": "break-glass",
                         "detail": [{"type": "break-glass-reason", "valueString": access.break_glass_reason}]})
    if entities:
        event["entity"] = entities
    return event


def _agents(access: Access) -> list[dict]:
    purpose = [{"coding": [{"system": PURPOSE, "code": access.purpose}]}] if access.purpose else None
    network = {"address": access.address, "type": "2"} if access.address else None  # 2: IP address
    actor = access.actor
    if actor is None:
        user: dict = {"who": {"display": "unauthenticated"}, "requestor": True, "purposeOfUse": purpose}
        if network:
            user["network"] = network
        return [user]
    who: dict = {"identifier": {"system": SUBJECT, "value": actor.subject}}
    if actor.fhir_user:
        who["reference"] = actor.fhir_user
    user = {"type": {"coding": [{"system": AGENT_TYPE, "code": "humanuser", "display": "human user"}]},
            "who": who, "requestor": True, "purposeOfUse": purpose}
    if network:
        user["network"] = network
    app = {"type": {"coding": [{"system": DICOM, "code": "110150", "display": "Application"}]},
           "who": {"identifier": {"system": CLIENT_ID, "value": actor.client_id}}, "requestor": False}
    if actor.subject == actor.client_id:  # a backend service acting for itself: the app is the requestor
        return [{**app, "requestor": True, "purposeOfUse": purpose, **({"network": network} if network else {})}]
    return [user, app]
