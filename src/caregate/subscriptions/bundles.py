"""Notification Bundles and status Parameters, in the shapes of the Subscriptions R5 Backport IG on R4.

A notification is a `history` Bundle (profile `backport-subscription-notification-r4`) whose first entry is
a Parameters resource with the `backport-subscription-status-r4` profile: the subscription, its topic and
status, the notification `type` (`handshake`, `heartbeat`, `event-notification`, `query-status`,
`query-event`), `events-since-subscription-start` and one `notification-event` per event (event number,
timestamp and, unless the content is `empty`, the `focus`). Numbers are strings because R4 has no
integer64 (http://hl7.org/fhir/uv/subscriptions-backport/notifications.html,
http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition-backport-subscription-status-r4.html).

With `id-only` content each event's focus follows as an entry with `fullUrl`, `request` and `response`;
with `full-resource` the entry also carries the resource as it was in that version
(http://hl7.org/fhir/uv/subscriptions-backport/payloads.html).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from caregate.clock import instant
from caregate.subscriptions.events import Event
from caregate.subscriptions.model import PROFILE_NOTIFICATION, PROFILE_STATUS

_REQUEST = {"create": ("POST", "201"), "update": ("PUT", "200"), "delete": ("DELETE", "204")}


def now_instant() -> str:
    return instant(datetime.now(UTC))


def status_parameters(base_url: str, sub_id: str, topic_url: str, status: str, kind: str, total: int,
                      events: Sequence[Event] = (), content: str = "empty",
                      errors: Sequence[str] = ()) -> dict:
    """The `backport-subscription-status-r4` Parameters resource that heads every notification."""
    ident = str(uuid.uuid4())
    params: list[dict] = [
        {"name": "subscription", "valueReference": {"reference": f"{base_url}/Subscription/{sub_id}"}},
        {"name": "topic", "valueCanonical": topic_url},
        {"name": "status", "valueCode": status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(total)},
    ]
    for event in events:
        part: list[dict] = [{"name": "event-number", "valueString": str(event.number)}]
        if event.timestamp:
            part.append({"name": "timestamp", "valueInstant": event.timestamp})
        if content != "empty":
            part.append({"name": "focus", "valueReference": {"reference": f"{base_url}/{event.type}/{event.id}"}})
        params.append({"name": "notification-event", "part": part})
    for text in errors:
        params.append({"name": "error", "valueCodeableConcept": {"text": text}})
    return {"resourceType": "Parameters", "id": ident, "meta": {"profile": [PROFILE_STATUS]}, "parameter": params}


def _status_entry(base_url: str, sub_id: str, parameters: dict) -> dict:
    return {"fullUrl": f"urn:uuid:{parameters['id']}", "resource": parameters,
            "request": {"method": "GET", "url": f"{base_url}/Subscription/{sub_id}/$status"},
            "response": {"status": "200"}}


def _focus_entry(base_url: str, event: Event, resource: dict | None, content: str) -> dict:
    method, status = _REQUEST.get(event.method, ("PUT", "200"))
    url = event.type if method == "POST" else f"{event.type}/{event.id}"
    entry: dict = {"fullUrl": f"{base_url}/{event.type}/{event.id}"}
    if content == "full-resource" and resource is not None:
        entry["resource"] = resource
    entry["request"] = {"method": method, "url": url}
    response: dict = {"status": status}
    if event.method != "delete":
        response["etag"] = f'W/"{event.version}"'
        if event.timestamp:
            response["lastModified"] = event.timestamp
    entry["response"] = response
    return entry


def notification(base_url: str, sub_id: str, topic_url: str, status: str, kind: str, total: int,
                 events: Sequence[Event] = (), content: str = "empty",
                 resources: Sequence[dict | None] = (), errors: Sequence[str] = ()) -> dict:
    """A notification Bundle of any type; `resources[i]` is event i's focus version (for full-resource)."""
    parameters = status_parameters(base_url, sub_id, topic_url, status, kind, total, events, content, errors)
    entries = [_status_entry(base_url, sub_id, parameters)]
    if content != "empty":
        for i, event in enumerate(events):
            resource = resources[i] if i < len(resources) else None
            entries.append(_focus_entry(base_url, event, resource, content))
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"profile": [PROFILE_NOTIFICATION]},
            "type": "history", "timestamp": now_instant(), "entry": entries}


def status_bundle(base_url: str, statuses: Sequence[tuple[str, dict]]) -> dict:
    """`$status` answers a `searchset` of status Parameters (type `query-status`), one per subscription."""
    entries = [{"fullUrl": f"urn:uuid:{params['id']}", "resource": params, "search": {"mode": "match"}}
               for _, params in statuses]
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset", "total": len(entries),
            "timestamp": now_instant(), "entry": entries}
