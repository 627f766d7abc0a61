"""Gathering the facts of one FHIR request for its AuditEvent: the interaction, the patients, the resource.

The patients are found in what went over the wire (the path, the query, the request and response bodies) by
looking for references to Patient resources, in JSON and XML alike: whatever a response carried about a
patient is what was disclosed, whichever interaction or include produced it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.types import Scope

from caregate.audit import Access, audit_event
from caregate.audit.notes import TOPIC, note
from caregate.clock import instant_now
from caregate.policy import Actor
from caregate.policy.purpose import Purpose
from caregate.policy.requests import interaction
from caregate.storage.base import Notes, Stored

_ID = rb"([A-Za-z0-9\-.]{1,64})"
# Bodies are scanned for the word Patient first (a literal, which the regex engine finds at the speed of a byte
# search), and each hit is then checked for what surrounds it: a reference or fullUrl value ending in
# `Patient/id` (JSON or XML), or a Patient resource's own `"resourceType":"Patient","id":"id"`. Scanning for the
# surroundings first instead tries a match at every quote of the body and costs ten to twenty times as much.
_PATIENT_WORD = re.compile(rb'Patient(?:/' + _ID + rb'["/]|"\s*,\s*"id"\s*:\s*"' + _ID + rb'")')
_URL_KEY = re.compile(rb'(?:"(reference|fullUrl)"\s*:\s*|<(reference|fullUrl) value=)"\Z')
_TYPE_KEY = re.compile(rb'"resourceType"\s*:\s*"\Z')
_WINDOW = 40  # bytes looked at before a hit for its key
_PATIENT_IN_TEXT = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})")
_PATIENT_PARAMS = ("patient", "subject", "beneficiary")


def patients_in_body(body: bytes) -> list[str]:
    """Ids of the patients a JSON or XML body refers to (references, fullUrls) or holds (Patient resources)."""
    found = []
    for match in _PATIENT_WORD.finditer(body):
        at = match.start()
        if match.group(1) is not None:  # Patient/id: the end of a reference or fullUrl value?
            quote = body.rfind(b'"', 0, at)
            if quote < 0:
                continue
            key = _URL_KEY.search(body, max(0, quote + 1 - _WINDOW), quote + 1)
            if key is None or (at > quote + 1 and body[at - 1] != 0x2F):  # 0x2F: the value's text ends with /
                continue
            if (key.group(1) or key.group(2)) == b"fullUrl" and at == quote + 1:  # a fullUrl is absolute
                continue
            found.append(match.group(1).decode())
        elif _TYPE_KEY.search(body, max(0, at - _WINDOW), at):
            found.append(match.group(2).decode())
    return found


def access(scope: Scope, actor: Actor | None, status: int, recorded: str, purpose: Purpose | None,
           request_body: bytes | None, response_body: bytes | None, location: str | None) -> Access:
    path = scope["path"]
    rest = path[path.find("/fhir") + 5:] if "/fhir" in path else path
    seg = [s for s in rest.split("/") if s]
    raw_qs = scope.get("query_string", b"").decode("utf-8", "replace")
    params = parse_qsl(raw_qs, keep_blank_values=True) if raw_qs else []
    kind = interaction(scope["method"], seg)
    patients: dict[str, None] = {}
    for found in _PATIENT_IN_TEXT.findall("/".join(seg[:2])):
        patients[found] = None
    for name, value in params:
        base = name.split(":")[0].split(".")[0]
        if base in _PATIENT_PARAMS or (base == "_id" and seg[:1] == ["Patient"]):
            for item in value.split(","):
                if base != "_id" and "/" in item and not item.startswith("Patient/"):
                    continue
                item = item.removeprefix("Patient/")
                if item and re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", item):
                    patients[item] = None
        else:
            for found in _PATIENT_IN_TEXT.findall(value):
                patients[found] = None
    for body in (request_body, response_body):
        if body:
            for found in patients_in_body(body):
                patients[found] = None
    if location:
        for found in _PATIENT_IN_TEXT.findall(location):
            patients[found] = None
    what = f"{seg[0]}/{seg[1]}" if len(seg) >= 2 and not seg[1].startswith(("_", "$")) else None
    query = urlencode(params) if kind.startswith("search") and params else None
    client = scope.get("client")
    return Access(kind, status, recorded, actor, purpose.code if purpose else None, list(patients), what, query,
                  client[0] if client else None, break_glass_reason=purpose.reason if purpose else None)


NOTED = "caregate.audit_noted"  # in the scope once a write has made its AuditEvent's outbox note


def write_notes(scope: Scope, request: Request, source: str, bundle: bool) -> Notes:
    """The outbox note of a write's AuditEvent, made inside the write's transaction so that the two commit
    together (caregate.storage.outbox). Who asked, why and from where are known before the write; the versions
    written, the patients they refer to and the status answered are known once it is done, and are read from
    what the response will carry: the versions themselves (`bundle`: a transaction Bundle, answered 200)."""
    actor, purpose = scope.get("caregate.actor"), scope.get("caregate.purpose")

    def notes(written: Sequence[Stored]) -> list[tuple[str, bytes]]:
        status, location = 200, None
        if not bundle and written:
            s = written[0]
            if s.deleted:
                status = 200 if s.method == "noop" else 204
            elif s.method == "create":
                status, location = 201, f"{source}/{s.type}/{s.id}/_history/{s.version}"
        facts = access(scope, actor, status, instant_now(), purpose, getattr(request, "_body", None),
                       b"".join(s.json for s in written), location)
        scope[NOTED] = True
        return [(TOPIC, note(audit_event(facts, source), facts.patients))]

    return notes


def declare(statement: dict) -> None:
    """Declare AuditEvent as the audit trail serves it: read and search by patient, written by the server only."""
    for resource in statement["rest"][0]["resource"]:
        if resource["type"] == "AuditEvent":
            for key in ("versioning", "readHistory", "updateCreate", "conditionalCreate", "conditionalUpdate",
                        "conditionalDelete", "conditionalRead", "searchInclude", "searchRevInclude", "operation"):
                resource.pop(key, None)
            resource["interaction"] = [{"code": "read"}, {"code": "search-type"}]
            resource["searchParam"] = [{"name": "_id", "type": "token",
                                        "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"},
                                       {"name": "patient", "type": "reference",
                                        "definition": "http://hl7.org/fhir/SearchParameter/AuditEvent-patient",
                                        "documentation": "Every access to this patient's record, newest first."}]
            resource["documentation"] = ("The tamper-evident audit trail: one AuditEvent per interaction, "
                                         "hash-chained; a patient token reads only its own patient's events.")
