"""The rest suite: the RESTful API (https://hl7.org/fhir/R4/http.html) on the checker's own Patient records."""

from __future__ import annotations

import re
import uuid
from typing import Any

from caregate.check.client import body_json
from caregate.check.context import CheckContext
from caregate.check.model import Failed, check, skip
from caregate.check.registry import R4, test
from caregate.check.samples import observation, patient

HTTP = R4 + "http.html"


def _can(type_: str, *interactions: str):
    return lambda cap: all(cap.supports(type_, i) for i in interactions)


def _needs(ctx: CheckContext, type_: str, *interactions: str) -> None:
    missing = [i for i in interactions if not ctx.cap.supports(type_, i)]
    if missing:
        skip(f"{type_} does not declare {', '.join(missing)}")


def _new_patient(ctx: CheckContext, **extra: Any) -> dict[str, Any]:
    return ctx.create("Patient", {**patient(ctx.run_id, {}), **extra})


def _is_outcome(r) -> bool:
    body = body_json(r)
    return isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" and bool(body.get("issue"))


def _ids(bundle: Any) -> list[str]:
    if not isinstance(bundle, dict):
        return []
    return [(e.get("resource") or {}).get("id") for e in bundle.get("entry") or []
            if (e.get("search") or {}).get("mode", "match") == "match"]


@test("rest.create", "Create returns 201 with Location, ETag and the new version",
      "POST [base]/[type] SHALL answer 201 Created with a Location header [base]/[type]/[id]/_history/[vid]; "
      "servers SHOULD return ETag and Last-Modified.", HTTP + "#create", mandatory=_can("Patient", "create"),
      writes=True)
def create(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "create")
    r = ctx.client.post("Patient", patient(ctx.run_id, {}))
    check(r.status_code == 201, f"POST answered {r.status_code}, not 201")
    location = r.headers.get("location", "")
    m = re.search(r"Patient/([A-Za-z0-9\-.]{1,64})/_history/([A-Za-z0-9\-.]{1,64})", location)
    check(m, f"Location {location!r} is not [base]/Patient/[id]/_history/[vid]")
    ctx.created.append(f"Patient/{m.group(1)}")
    check(r.headers.get("etag"), "no ETag header")
    return f"created Patient/{m.group(1)}"


@test("rest.read", "Read returns the resource with its id, version and ETag",
      "GET [base]/[type]/[id] SHALL return 200 with the resource; meta.versionId and meta.lastUpdated are set and "
      "the ETag header is W/\"[versionId]\".", HTTP + "#read", mandatory=_can("Patient", "read"))
def read(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "read")
    sample = ctx.sample("Patient")
    r = ctx.client.get(f"Patient/{sample['id']}")
    check(r.status_code == 200, f"read answered {r.status_code}")
    body = body_json(r) or {}
    check(body.get("id") == sample["id"], "the resource read back has another id")
    meta = body.get("meta") or {}
    check(meta.get("versionId") and meta.get("lastUpdated"), "meta.versionId or meta.lastUpdated missing")
    check(r.headers.get("etag") == f'W/"{meta["versionId"]}"',
          f"ETag {r.headers.get('etag')!r} is not W/\"{meta['versionId']}\"")
    if not ctx.read_only:
        check((body.get("name") or [{}])[0].get("family") == f"Checker{ctx.run_id}", "the content was not kept")
    return "read with versionId, lastUpdated and a matching ETag"


@test("rest.read-unknown", "Reading an unknown id is 404 with an OperationOutcome",
      "A read of a resource that never existed SHALL return 404 Not Found; errors carry an OperationOutcome.",
      HTTP + "#read", mandatory=_can("Patient", "read"))
def read_unknown(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "read")
    r = ctx.client.get(f"Patient/no-such-{uuid.uuid4().hex[:12]}")
    check(r.status_code == 404, f"answered {r.status_code}, not 404")
    check(_is_outcome(r), "the 404 carries no OperationOutcome")
    return "404 with an OperationOutcome"


@test("rest.vread", "Each version can be read back (vread)",
      "GET [base]/[type]/[id]/_history/[vid] SHALL return that version, with its versionId.",
      HTTP + "#vread", mandatory=_can("Patient", "vread", "update"), writes=True)
def vread(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "vread", "update", "create")
    p = _new_patient(ctx)
    v1 = (p.get("meta") or {}).get("versionId")
    r = ctx.client.put(f"Patient/{p['id']}", {k: v for k, v in p.items() if k != "meta"} | {"gender": "other"})
    check(r.status_code == 200, f"update answered {r.status_code}")
    r = ctx.client.get(f"Patient/{p['id']}/_history/{v1}")
    body = body_json(r) or {}
    check(r.status_code == 200, f"vread of version {v1} answered {r.status_code}")
    check(body.get("gender") == "female" and (body.get("meta") or {}).get("versionId") == v1,
          "vread returned another version's content")
    return "the first version read back unchanged after an update"


@test("rest.update", "Update makes a new version",
      "PUT [base]/[type]/[id] SHALL answer 200 OK and store a new version with a new versionId.",
      HTTP + "#update", mandatory=_can("Patient", "update"), writes=True)
def update(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "update", "create")
    p = _new_patient(ctx)
    before = (p.get("meta") or {}).get("versionId")
    body = {k: v for k, v in p.items() if k != "meta"} | {"gender": "male"}
    r = ctx.client.put(f"Patient/{p['id']}", body, headers={"Prefer": "return=representation"})
    check(r.status_code == 200, f"update answered {r.status_code}, not 200")
    r = ctx.client.get(f"Patient/{p['id']}")
    got = body_json(r) or {}
    check(got.get("gender") == "male", "the update was not stored")
    check((got.get("meta") or {}).get("versionId") != before, "the versionId did not change")
    return "updated with a new versionId"


@test("rest.update-id-mismatch", "Update with a different id in the body is refused",
      "If the id in the body does not match the id in the URL the server SHALL respond 400 Bad Request.",
      HTTP + "#update", mandatory=_can("Patient", "update"), writes=True)
def update_mismatch(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "update")
    p = ctx.sample("Patient")
    body = {k: v for k, v in p.items() if k != "meta"} | {"id": "some-other-id"}
    r = ctx.client.put(f"Patient/{p['id']}", body)
    check(r.status_code == 400, f"answered {r.status_code}, not 400")
    check(_is_outcome(r), "no OperationOutcome with the 400")
    return "400 with an OperationOutcome"


@test("rest.delete", "Delete removes the resource; later reads say so",
      "DELETE [base]/[type]/[id] answers 200 or 204; a later read returns 410 Gone (or 404 when deletions are not "
      "tracked).", HTTP + "#delete", mandatory=_can("Patient", "delete"), writes=True)
def delete(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "delete", "create")
    p = _new_patient(ctx)
    r = ctx.client.delete(f"Patient/{p['id']}")
    check(r.status_code in (200, 202, 204), f"delete answered {r.status_code}")
    r = ctx.client.get(f"Patient/{p['id']}")
    check(r.status_code in (404, 410), f"the deleted resource still reads ({r.status_code})")
    return f"deleted; then read answers {r.status_code}"


@test("rest.history", "Instance history lists every version, newest first",
      "GET [base]/[type]/[id]/_history SHALL return a Bundle of type history with one entry per version, most "
      "recent first.", HTTP + "#history", mandatory=_can("Patient", "history-instance", "update"), writes=True)
def history(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "history-instance", "update", "create")
    p = _new_patient(ctx)
    body = {k: v for k, v in p.items() if k != "meta"}
    for gender in ("male", "other"):
        check(ctx.client.put(f"Patient/{p['id']}", body | {"gender": gender}).status_code == 200, "update failed")
    r = ctx.client.get(f"Patient/{p['id']}/_history")
    bundle = body_json(r) or {}
    check(r.status_code == 200 and bundle.get("type") == "history", "no history Bundle")
    genders = [(e.get("resource") or {}).get("gender") for e in bundle.get("entry") or []]
    check(genders == ["other", "male", "female"], f"history holds {genders}, expected other, male, female")
    if "total" in bundle:
        check(bundle["total"] == 3, f"total {bundle['total']} with three versions")
    return "three versions, newest first"


@test("rest.history-type", "Type history includes new records",
      "GET [base]/[type]/_history SHALL return a history Bundle including recent changes to that type.",
      HTTP + "#history", mandatory=_can("Patient", "history-type"))
def history_type(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "history-type")
    r = ctx.client.get("Patient/_history", params={"_count": "5"})
    bundle = body_json(r) or {}
    check(r.status_code == 200 and bundle.get("type") == "history", f"answered {r.status_code} without history")
    for e in bundle.get("entry") or []:
        check((e.get("request") or {}).get("method") or (e.get("response") or {}).get("status") or e.get("resource"),
              "a history entry has neither request, response nor resource")
    return f"{len(bundle.get('entry') or [])} entries"


@test("rest.conditional-create", "Conditional create does not duplicate",
      "POST with If-None-Exist: when one resource matches, the server SHALL NOT create another and answers 200 OK.",
      HTTP + "#ccreate", mandatory=lambda cap: bool(cap.conditional("Patient", "conditionalCreate")), writes=True)
def conditional_create(ctx: CheckContext) -> str:
    if not ctx.cap.conditional("Patient", "conditionalCreate"):
        skip("conditionalCreate not declared for Patient")
    system = "https://example.org/check-id"
    value = f"cc-{uuid.uuid4().hex[:10]}"
    body = patient(ctx.run_id, {}) | {"identifier": [{"system": system, "value": value}]}
    cond = {"If-None-Exist": f"identifier={system}|{value}"}
    first = ctx.client.post("Patient", body, headers=cond)
    check(first.status_code == 201, f"first conditional create answered {first.status_code}")
    loc = first.headers.get("location", "")
    pid = loc.split("/_history")[0].rstrip("/").split("/")[-1]
    ctx.created.append(f"Patient/{pid}")
    second = ctx.client.post("Patient", body, headers=cond)
    check(second.status_code == 200, f"second conditional create answered {second.status_code}, not 200")
    r = ctx.client.get("Patient", params={"identifier": f"{system}|{value}"})
    check(len(_ids(body_json(r))) == 1, f"{len(_ids(body_json(r)))} patients with the identifier, expected 1")
    return "the second create found the first and made nothing"


@test("rest.conditional-update", "Conditional update creates once, then updates",
      "PUT [base]/[type]?[search]: no match creates (201), one match updates that resource (200).",
      HTTP + "#cond-update", mandatory=lambda cap: bool(cap.conditional("Patient", "conditionalUpdate")),
      writes=True)
def conditional_update(ctx: CheckContext) -> str:
    if not ctx.cap.conditional("Patient", "conditionalUpdate"):
        skip("conditionalUpdate not declared for Patient")
    system = "https://example.org/check-id"
    value = f"cu-{uuid.uuid4().hex[:10]}"
    body = patient(ctx.run_id, {}) | {"identifier": [{"system": system, "value": value}]}
    url = f"Patient?identifier={system}|{value}"
    first = ctx.client.put(url, body)
    check(first.status_code == 201, f"with no match it answered {first.status_code}, not 201")
    pid = first.headers.get("location", "").split("/_history")[0].rstrip("/").split("/")[-1]
    ctx.created.append(f"Patient/{pid}")
    second = ctx.client.put(url, body | {"gender": "male"})
    check(second.status_code == 200, f"with one match it answered {second.status_code}, not 200")
    r = ctx.client.get("Patient", params={"identifier": f"{system}|{value}"})
    bundle = body_json(r)
    check(_ids(bundle) == [pid], f"found {_ids(bundle)}, expected only {pid}")
    check(bundle["entry"][0]["resource"].get("gender") == "male", "the match was not updated")
    return "created then updated the same resource"


@test("rest.if-match", "If-Match with a stale version is refused with 412",
      "An update with If-Match naming a version that is not current SHALL fail with 412 Precondition Failed; "
      "with the current version it succeeds.", HTTP + "#concurrency",
      mandatory=lambda cap: cap.resource("Patient").get("versioning") == "versioned-update", writes=True)
def if_match(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "update", "create")
    p = _new_patient(ctx)
    v1 = (p.get("meta") or {}).get("versionId")
    body = {k: v for k, v in p.items() if k != "meta"}
    r = ctx.client.put(f"Patient/{p['id']}", body | {"gender": "male"}, headers={"If-Match": f'W/"{v1}"'})
    check(r.status_code == 200, f"If-Match with the current version answered {r.status_code}")
    r = ctx.client.put(f"Patient/{p['id']}", body | {"gender": "other"}, headers={"If-Match": f'W/"{v1}"'})
    check(r.status_code == 412, f"If-Match with a stale version answered {r.status_code}, not 412")
    return "current version accepted, stale version refused with 412"


@test("rest.update-create", "Update to a new id creates the resource when declared",
      "A server declaring updateCreate SHALL create the resource on PUT [base]/[type]/[id] when none exists with "
      "that id, answering 201 Created.", HTTP + "#upsert",
      mandatory=lambda cap: bool(cap.conditional("Patient", "updateCreate")) and cap.supports("Patient", "update"),
      writes=True)
def update_create(ctx: CheckContext) -> str:
    if not ctx.cap.conditional("Patient", "updateCreate"):
        skip("updateCreate not declared for Patient")
    _needs(ctx, "Patient", "update")
    pid = f"check-{uuid.uuid4().hex[:16]}"
    r = ctx.client.put(f"Patient/{pid}", patient(ctx.run_id, {}) | {"id": pid})
    if r.status_code in (200, 201):
        ctx.created.append(f"Patient/{pid}")
    check(r.status_code == 201, f"answered {r.status_code}, not 201")
    got = ctx.client.get(f"Patient/{pid}")
    check(got.status_code == 200, f"the resource created by PUT reads {got.status_code}")
    return "201 and readable at the client's id"


@test("rest.conditional-delete", "Conditional delete removes the one match",
      "DELETE [base]/[type]?[search] SHALL delete the matching resource when one matches (conditionalDelete "
      "single or multiple), and succeed without deleting anything when none does.", HTTP + "#cdelete",
      mandatory=lambda cap: cap.conditional("Patient", "conditionalDelete") in ("single", "multiple"), writes=True)
def conditional_delete(ctx: CheckContext) -> str:
    if ctx.cap.conditional("Patient", "conditionalDelete") not in ("single", "multiple"):
        skip("conditionalDelete not declared for Patient")
    system, value = "https://example.org/check-id", f"cd-{uuid.uuid4().hex[:10]}"
    p = _new_patient(ctx, identifier=[{"system": system, "value": value}])
    r = ctx.client.delete("Patient", params={"identifier": f"{system}|{value}"})
    check(r.status_code in (200, 202, 204), f"answered {r.status_code}")
    gone = ctx.client.get(f"Patient/{p['id']}")
    check(gone.status_code in (404, 410), f"the match still reads ({gone.status_code})")
    r = ctx.client.delete("Patient", params={"identifier": f"{system}|no-such-{value}"})
    check(r.status_code in (200, 204, 404), f"with no match it answered {r.status_code}")
    return "the match deleted; no match is no error"


def _transaction(kind: str, ctx: CheckContext, entries: list[dict]) -> Any:
    r = ctx.client.post("", {"resourceType": "Bundle", "type": kind, "entry": entries})
    return r, body_json(r) or {}


@test("rest.transaction", "A transaction commits all entries and resolves urn:uuid references",
      "A transaction Bundle is processed as one unit; references to urn:uuid fullUrls are rewritten to the new ids; "
      "the answer is a transaction-response with one entry per request.", HTTP + "#transaction",
      mandatory=lambda cap: "transaction" in cap.system_interactions(), writes=True)
def transaction(ctx: CheckContext) -> str:
    if "transaction" not in ctx.cap.system_interactions():
        skip("transaction not declared")
    pu, ou = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    obs = observation(ctx.run_id, {"Patient": "x"}) | {"subject": {"reference": pu}}
    r, body = _transaction("transaction", ctx, [
        {"fullUrl": pu, "resource": patient(ctx.run_id, {}), "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": ou, "resource": obs, "request": {"method": "POST", "url": "Observation"}}])
    check(r.status_code == 200, f"answered {r.status_code}, not 200")
    check(body.get("type") == "transaction-response", f"the answer is a {body.get('type')!r} Bundle")
    entries = body.get("entry") or []
    check(len(entries) == 2, f"{len(entries)} response entries for 2 requests")
    locs = [(e.get("response") or {}).get("location", "") for e in entries]
    check(all(s.get("response", {}).get("status", "").startswith("201") for s in entries), "entries not 201")
    pid = locs[0].split("/_history")[0].rstrip("/").split("/")[-1]
    oid = locs[1].split("/_history")[0].rstrip("/").split("/")[-1]
    ctx.created += [f"Patient/{pid}", f"Observation/{oid}"]
    got = body_json(ctx.client.get(f"Observation/{oid}")) or {}
    ref = (got.get("subject") or {}).get("reference", "")
    check(ref.endswith(f"Patient/{pid}"), f"the urn:uuid reference became {ref!r}, not Patient/{pid}")
    return "both created, reference resolved"


@test("rest.transaction-atomic", "A failing transaction changes nothing",
      "If any entry of a transaction fails, the whole transaction SHALL fail and no change is kept.",
      HTTP + "#transaction", mandatory=lambda cap: "transaction" in cap.system_interactions(), writes=True)
def transaction_atomic(ctx: CheckContext) -> str:
    if "transaction" not in ctx.cap.system_interactions():
        skip("transaction not declared")
    system, value = "https://example.org/check-id", f"tx-{uuid.uuid4().hex[:10]}"
    good = patient(ctx.run_id, {}) | {"identifier": [{"system": system, "value": value}]}
    r, _ = _transaction("transaction", ctx, [
        {"resource": good, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": f"Patient/no-such-{uuid.uuid4().hex[:8]}"}},
        {"request": {"method": "DELETE", "url": "NotAResourceType/1"}},
        {"resource": {"resourceType": "Patient", "gender": "not-a-gender"}, "request": {"method": "PUT",
                                                                                         "url": "Patient/x!"}}])
    check(r.status_code >= 400, f"a transaction with bad entries answered {r.status_code}")
    check(_is_outcome(r), "the failed transaction carries no OperationOutcome")
    found = _ids(body_json(ctx.client.get("Patient", params={"identifier": f"{system}|{value}"})))
    for pid in found:
        ctx.created.append(f"Patient/{pid}")
    check(not found, "the good entry of a failed transaction was kept")
    return f"refused with {r.status_code}, nothing kept"


@test("rest.batch", "A batch processes each entry on its own",
      "A batch Bundle answers 200 with a batch-response holding one entry per request, each with its own status; "
      "one entry failing does not stop the others.", HTTP + "#transaction",
      mandatory=lambda cap: "batch" in cap.system_interactions(), writes=True)
def batch(ctx: CheckContext) -> str:
    if "batch" not in ctx.cap.system_interactions():
        skip("batch not declared")
    r, body = _transaction("batch", ctx, [
        {"resource": patient(ctx.run_id, {}), "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": f"Patient/no-such-{uuid.uuid4().hex[:8]}"}}])
    check(r.status_code == 200, f"answered {r.status_code}, not 200")
    check(body.get("type") == "batch-response", f"the answer is a {body.get('type')!r} Bundle")
    statuses = [(e.get("response") or {}).get("status", "") for e in body.get("entry") or []]
    check(len(statuses) == 2, f"{len(statuses)} response entries for 2 requests")
    loc = (body["entry"][0].get("response") or {}).get("location", "")
    if loc:
        ctx.created.append("Patient/" + loc.split("/_history")[0].rstrip("/").split("/")[-1])
    check(statuses[0].startswith("201"), f"the create entry says {statuses[0]!r}")
    check(statuses[1].startswith("404"), f"the read of a missing resource says {statuses[1]!r}")
    return "201 and 404 side by side"


@test("rest.invalid-json", "Malformed content is refused with 400 and an OperationOutcome",
      "Content that cannot be parsed SHALL be rejected with 400 Bad Request and an OperationOutcome.",
      HTTP + "#2.21.0.4", mandatory=_can("Patient", "create"), writes=True)
def invalid_json(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "create")
    r = ctx.client.request("POST", "Patient", content=b'{"resourceType": "Patient", "name": [',
                           headers={"Content-Type": "application/fhir+json"})
    check(r.status_code == 400, f"answered {r.status_code}, not 400")
    check(_is_outcome(r), "no OperationOutcome")
    return "400 with an OperationOutcome"


@test("rest.wrong-type", "A body of another resource type is refused",
      "The resource in the body of a create SHALL be of the type named in the URL; otherwise the server answers "
      "400 Bad Request (or 422) with an OperationOutcome.", HTTP + "#create", mandatory=_can("Patient", "create"),
      writes=True)
def wrong_type(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "create")
    r = ctx.client.post("Patient", {"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    _forget_created(ctx, r)
    check(r.status_code in (400, 422), f"answered {r.status_code}, not 400 or 422")
    check(_is_outcome(r), "no OperationOutcome")
    return f"{r.status_code} with an OperationOutcome"


@test("rest.invalid-resource", "Content failing basic FHIR validation is refused",
      "A resource that fails basic FHIR validation (here: a number where a date string belongs, an unknown code "
      "for a required binding, an impossible date) SHOULD be refused with 400 Bad Request and an OperationOutcome.",
      HTTP + "#2.21.0.4", mandatory=lambda cap: "validate" in cap.type_operations("Patient"), writes=True)
def invalid_resource(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "create")
    accepted = []
    for body in ({"resourceType": "Patient", "birthDate": 1984}, {"resourceType": "Patient", "gender": "nonsense"},
                 {"resourceType": "Patient", "birthDate": "1984-13-45"}):
        r = ctx.client.post("Patient", body)
        _forget_created(ctx, r)
        if r.status_code not in (400, 422) or not _is_outcome(r):
            accepted.append(f"{body} ({r.status_code})")
    check(not accepted, f"accepted without an error: {'; '.join(accepted)}")
    return "all three refused with an OperationOutcome"


def _forget_created(ctx: CheckContext, r) -> None:
    """Delete at once anything a create that should have been refused made (later tests must not see it)."""
    if r.status_code in (200, 201):
        parts = r.headers.get("location", "").split("/_history")[0].rstrip("/").split("/")
        if len(parts) >= 2 and parts[-1]:
            ctx.client.delete(f"{parts[-2]}/{parts[-1]}")


@test("rest.unknown-type", "An unknown resource type is refused with an OperationOutcome",
      "A request for a resource type the server does not support SHALL be refused (404 Not Found, or 400) with "
      "an OperationOutcome.", HTTP + "#2.21.0.4")
def unknown_type(ctx: CheckContext) -> str:
    r = ctx.client.get("NotAResourceType/1")
    check(r.status_code in (400, 404), f"answered {r.status_code}")
    check(_is_outcome(r), "no OperationOutcome")
    return f"{r.status_code} with an OperationOutcome"


@test("rest.no-stack-traces", "Errors reveal no program internals",
      "Error responses SHALL NOT disclose stack traces or internal details (OWASP ASVS 7.4.1); FHIR errors are "
      "OperationOutcomes.", "https://owasp.org/www-project-application-security-verification-standard/")
def no_stack_traces(ctx: CheckContext) -> str:
    probes = [ctx.client.get("Patient", params={"birthdate": "not-a-date"}),
              ctx.client.get("Patient", params={"_count": "-5"}),
              ctx.client.get("Patient/%00%27%22"),
              ctx.client.get("Patient", params={"_sort": "no-such-param", "_include": "Nope:nothing"})]
    if not ctx.read_only:
        probes.append(ctx.client.request("POST", "Patient", content=b"\xff\xfe<not json>",
                                         headers={"Content-Type": "application/fhir+json"}))
    pattern = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line|\bat [\w$.]+\([\w]+\.java:"
                         r"\d+\)|\bat .+ \(.+\.[jt]s:\d+:\d+\)|System\.\w+Exception|psycopg|sqlite3\.|SQLSTATE")
    leaks = [f"{p.request.method} {p.request.url.path} ({p.status_code})" for p in probes if pattern.search(p.text)]
    check(not leaks, f"stack traces or internals in: {', '.join(leaks)}")
    fives = [f"{p.request.url} ({p.status_code})" for p in probes if p.status_code >= 500]
    check(not fives, f"bad input answered with server errors: {', '.join(fives)}")
    return f"{len(probes)} bad requests, no internals shown, no 5xx"


@test("rest.paging", "Search pages add up",
      "Paged searches link next pages; following next visits every match exactly once, each page holds at most "
      "_count matches, and Bundle.total (when given) equals the number of matches.", R4 + "search.html#count",
      mandatory=_can("Observation", "search-type"))
def paging(ctx: CheckContext) -> str:
    _needs(ctx, "Observation", "search-type")
    if ctx.read_only:
        params = {"_count": "3"}
        expected = None
    else:
        pid = ctx.sample("Patient")["id"]
        for _ in range(7):
            ctx.create("Observation", observation(ctx.run_id, {"Patient": pid}))
        ctx.sample("Observation")
        params = {"subject": f"Patient/{pid}", "_count": "3", "_total": "accurate"}
        expected = 8
    r = ctx.client.get("Observation", params=params)
    bundle = body_json(r) or {}
    check(r.status_code == 200, f"the search answered {r.status_code}")
    seen: list[str] = []
    total = bundle.get("total")
    pages = 0
    while True:
        pages += 1
        ids = _ids(bundle)
        check(len(ids) <= 3, f"page {pages} holds {len(ids)} matches with _count=3")
        seen += ids
        nxt = next((li.get("url") for li in bundle.get("link") or [] if li.get("relation") == "next"), None)
        if not nxt or pages > 50 or (expected is None and pages >= 4):
            break
        r = ctx.client.get(nxt)
        check(r.status_code == 200, f"the next link answered {r.status_code}")
        bundle = body_json(r) or {}
    check(len(seen) == len(set(seen)), "a match appears on two pages")
    if expected is not None:
        check(len(seen) == expected, f"paging visited {len(seen)} matches, {expected} exist")
        if total is not None:
            check(total == expected, f"Bundle.total is {total}, {expected} match")
    return f"{len(seen)} matches over {pages} pages, none twice"


@test("rest.count", "_count limits the page",
      "_count=[n] asks for at most n matches per page; a server SHALL NOT return more.", R4 + "search.html#count",
      mandatory=_can("Patient", "search-type"))
def count(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "search-type")
    ctx.sample("Patient")
    if not ctx.read_only:
        _new_patient(ctx)
    r = ctx.client.get("Patient", params={"_count": "1"})
    ids = _ids(body_json(r))
    check(r.status_code == 200 and len(ids) == 1, f"_count=1 gave {len(ids)} matches ({r.status_code})")
    return "one match with _count=1"


@test("rest.search-post", "Search by POST gives the same answer as GET",
      "Servers SHALL support search by POST [base]/[type]/_search with form-encoded parameters, with the same "
      "results as GET.", R4 + "http.html#search", mandatory=_can("Patient", "search-type"))
def search_post(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "search-type")
    pid = ctx.sample("Patient")["id"]
    r = ctx.client.request("POST", "Patient/_search", content=f"_id={pid}",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(r.status_code == 200, f"POST _search answered {r.status_code}")
    check(_ids(body_json(r)) == [pid], f"POST _search found {_ids(body_json(r))}, not [{pid}]")
    return "same match by POST"


@test("rest.xml-read", "Resources are served as XML when declared",
      "A server that declares XML SHALL return a resource as FHIR XML for Accept: application/fhir+xml.",
      R4 + "xml.html", mandatory=lambda cap: cap.declares_xml() and cap.supports("Patient", "read"))
def xml_read(ctx: CheckContext) -> str:
    from caregate.fhir.xmlformat import FhirFormatError, parse_xml

    if not ctx.cap.declares_xml():
        skip("XML not declared")
    _needs(ctx, "Patient", "read")
    pid = ctx.sample("Patient")["id"]
    r = ctx.client.get(f"Patient/{pid}", headers={"Accept": "application/fhir+xml"})
    check(r.status_code == 200, f"answered {r.status_code}")
    check(r.headers.get("content-type", "").startswith("application/fhir+xml"),
          f"served as {r.headers.get('content-type')!r}")
    try:
        parsed = parse_xml(r.content)
    except FhirFormatError as exc:
        raise Failed(f"not valid FHIR XML: {exc}") from None
    check(parsed.get("id") == pid, "the XML is another resource")
    return "valid FHIR XML"


@test("rest.xml-create", "XML can be written when declared",
      "A server that declares XML SHALL accept a resource posted as application/fhir+xml.", R4 + "xml.html",
      mandatory=lambda cap: cap.declares_xml() and cap.supports("Patient", "create"), writes=True)
def xml_create(ctx: CheckContext) -> str:
    from caregate.fhir.xmlformat import to_xml

    if not ctx.cap.declares_xml():
        skip("XML not declared")
    _needs(ctx, "Patient", "create")
    r = ctx.client.request("POST", "Patient", content=to_xml(patient(ctx.run_id, {})),
                           headers={"Content-Type": "application/fhir+xml"})
    check(r.status_code == 201, f"answered {r.status_code}")
    pid = r.headers.get("location", "").split("/_history")[0].rstrip("/").split("/")[-1]
    ctx.created.append(f"Patient/{pid}")
    got = body_json(ctx.client.get(f"Patient/{pid}")) or {}
    check((got.get("name") or [{}])[0].get("family") == f"Checker{ctx.run_id}", "the XML content was not kept")
    return "created from XML and read back as JSON"


@test("rest.patch", "JSON Patch works when declared",
      "PATCH [base]/[type]/[id] with a JSON Patch document (application/json-patch+json) SHALL apply it.",
      HTTP + "#patch", mandatory=_can("Patient", "patch"), writes=True)
def patch(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "patch", "create")
    if "application/json-patch+json" not in (ctx.cap.statement.get("patchFormat") or []):
        skip("JSON Patch is not among patchFormat")
    p = _new_patient(ctx)
    r = ctx.client.request("PATCH", f"Patient/{p['id']}",
                           content=b'[{"op": "replace", "path": "/gender", "value": "male"}]',
                           headers={"Content-Type": "application/json-patch+json"})
    check(r.status_code == 200, f"answered {r.status_code}")
    got = body_json(ctx.client.get(f"Patient/{p['id']}")) or {}
    check(got.get("gender") == "male", "the patch was not applied")
    return "patched"
