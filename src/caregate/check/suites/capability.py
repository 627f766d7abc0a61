"""The capability suite: the CapabilityStatement is well formed, and what it declares actually works."""

from __future__ import annotations

from caregate.check.capability import Capability
from caregate.check.client import body_json
from caregate.check.context import CheckContext
from caregate.check.model import Failed, check, skip
from caregate.check.registry import R4, test
from caregate.check.samples import TEMPLATES
from caregate.fhir.definitions import resource_types

CS = R4 + "capabilitystatement.html"
INTERACTIONS = {"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
                "search-type"}
SYSTEM_INTERACTIONS = {"transaction", "batch", "delete", "history-system", "search-system"}
PARAM_TYPES = {"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"}


def _statement(ctx: CheckContext) -> dict:
    r = ctx.client.get("metadata")
    check(r.status_code == 200, f"GET [base]/metadata answered {r.status_code}, not 200")
    body = body_json(r)
    check(isinstance(body, dict) and body.get("resourceType") == "CapabilityStatement",
          "GET [base]/metadata did not return a CapabilityStatement in JSON")
    return body


@test("capability.metadata", "The server publishes its CapabilityStatement",
      "Every FHIR server SHALL return a CapabilityStatement at GET [base]/metadata describing what it supports.",
      R4 + "http.html#capabilities")
def metadata(ctx: CheckContext) -> str:
    _statement(ctx)
    return "GET [base]/metadata returns a CapabilityStatement"


@test("capability.shape", "The CapabilityStatement is well formed",
      "status, date, kind and fhirVersion are required; format has at least one entry; a server's statement has "
      "a rest entry in mode 'server' (cpb-1); kind is 'instance' or 'capability' for a running server.",
      CS + "#CapabilityStatement")
def shape(ctx: CheckContext) -> str:
    cs = _statement(ctx)
    missing = [k for k in ("status", "date", "kind", "fhirVersion") if not cs.get(k)]
    check(not missing, f"required elements missing: {', '.join(missing)}")
    check(cs["status"] in ("draft", "active", "retired", "unknown"), f"status {cs['status']!r} is not a valid code")
    check(cs["kind"] in ("instance", "capability"), f"kind {cs['kind']!r}: a running server is an instance")
    check(isinstance(cs.get("format"), list) and cs["format"], "format lists no supported format")
    rests = cs.get("rest") or []
    check(any(isinstance(r, dict) and r.get("mode") == "server" for r in rests), "no rest entry with mode 'server'")
    return "required elements present and valid"


@test("capability.fhir-version", "It declares FHIR R4 (4.0.1)",
      "The statement's fhirVersion SHALL be the FHIR version the server implements: 4.0.1 for FHIR R4.",
      CS + "#CapabilityStatement.fhirVersion")
def fhir_version(ctx: CheckContext) -> str:
    version = _statement(ctx).get("fhirVersion")
    check(version == "4.0.1", f"fhirVersion is {version!r}, not '4.0.1'")
    return "fhirVersion 4.0.1"


@test("capability.resource-types", "Declared resource types and interactions are real FHIR R4 names",
      "rest.resource.type is an R4 resource type; interaction codes, search parameter types and system "
      "interactions come from their R4 value sets.", CS + "#CapabilityStatement.rest.resource")
def declared_names(ctx: CheckContext) -> str:
    cap = Capability(_statement(ctx))
    known = resource_types()
    bad = [t for t in cap.types() if t not in known]
    check(not bad, f"not R4 resource types: {', '.join(bad[:10])}")
    for t in cap.types():
        odd = cap.interactions(t) - INTERACTIONS
        check(not odd, f"{t}: unknown interaction codes {sorted(odd)}")
        odd_types = {v for v in cap.search_params(t).values() if v not in PARAM_TYPES}
        check(not odd_types, f"{t}: unknown search parameter types {sorted(odd_types)}")
    odd = cap.system_interactions() - SYSTEM_INTERACTIONS
    check(not odd, f"unknown system interaction codes {sorted(odd)}")
    return f"{len(cap.types())} resource types, all valid"


@test("capability.formats", "JSON is served as declared, with the FHIR media type",
      "A server SHALL support JSON or XML and declare it in format; JSON responses use the media type "
      "application/fhir+json and _format=json is honoured.", R4 + "http.html#mime-type")
def formats(ctx: CheckContext) -> str:
    cap = Capability(_statement(ctx))
    declared = cap.formats()
    check(any(f in ("json", "application/fhir+json") for f in declared) or cap.declares_xml(),
          f"format {declared} names neither JSON nor XML")
    r = ctx.client.get("metadata")
    media = r.headers.get("content-type", "").split(";")[0].strip()
    check(media == "application/fhir+json", f"JSON is served as {media!r}, not application/fhir+json")
    r = ctx.client.get("metadata", params={"_format": "json"}, headers={"Accept": "*/*"})
    check(r.status_code == 200 and isinstance(body_json(r), dict), "_format=json was not honoured")
    return "application/fhir+json"


@test("capability.xml", "XML is served when declared",
      "A server that lists XML in format SHALL return resources as FHIR XML (application/fhir+xml) on request.",
      R4 + "xml.html", mandatory=lambda cap: cap.declares_xml())
def xml(ctx: CheckContext) -> str:
    from caregate.fhir.xmlformat import FhirFormatError, parse_xml

    if not ctx.cap.declares_xml():
        skip("the server does not declare XML")
    r = ctx.client.get("metadata", headers={"Accept": "application/fhir+xml"})
    check(r.status_code == 200, f"metadata as XML answered {r.status_code}")
    media = r.headers.get("content-type", "").split(";")[0].strip()
    check(media == "application/fhir+xml", f"XML is served as {media!r}, not application/fhir+xml")
    try:
        parsed = parse_xml(r.content)
    except FhirFormatError as exc:
        raise Failed(f"the XML is not valid FHIR XML: {exc}") from None
    check(parsed.get("resourceType") == "CapabilityStatement", "the XML is not a CapabilityStatement")
    return "FHIR XML served and parsed"


@test("capability.search-types", "Every type declared searchable answers a search",
      "Each resource type declaring the search-type interaction SHALL answer GET [base]/[type] with a Bundle of "
      "type searchset.", R4 + "http.html#search",
      mandatory=lambda cap: any(cap.supports(t, "search-type") for t in cap.types()))
def search_types(ctx: CheckContext) -> str:
    types = [t for t in ctx.cap.types() if ctx.cap.supports(t, "search-type")]
    if not types:
        skip("no type declares search-type")
    bad = []
    for t in types:
        r = ctx.client.get(t, params={"_count": "1"})
        body = body_json(r)
        if r.status_code != 200 or not isinstance(body, dict) or body.get("type") != "searchset":
            bad.append(f"{t} ({r.status_code})")
    check(not bad, f"declared searchable but no searchset Bundle: {', '.join(bad[:15])}")
    return f"{len(types)} types answer a search"


@test("capability.operations", "Declared operations name their definitions",
      "Each rest.operation and rest.resource.operation SHALL have a name and the canonical URL of its "
      "OperationDefinition.", CS + "#CapabilityStatement.rest.resource.operation")
def operations(ctx: CheckContext) -> str:
    cs = _statement(ctx)
    rest = Capability(cs).rest
    ops = list(rest.get("operation") or [])
    for r in rest.get("resource") or []:
        ops += r.get("operation") or []
    bad = [o.get("name", "?") for o in ops if not o.get("name") or not o.get("definition")]
    check(not bad, f"operations without a name or definition: {bad[:10]}")
    return f"{len(ops)} operations declared properly" if ops else "no operations declared"


@test("capability.system", "Declared system-wide search and history work",
      "search-system (GET [base]?...) and history-system (GET [base]/_history) SHALL work when declared.",
      R4 + "http.html#history", mandatory=lambda cap: bool(cap.system_interactions() & {"search-system",
                                                                                      "history-system"}))
def system(ctx: CheckContext) -> str:
    declared = ctx.cap.system_interactions()
    done = []
    if "history-system" in declared:
        r = ctx.client.get("_history", params={"_count": "2"})
        body = body_json(r)
        check(r.status_code == 200 and isinstance(body, dict) and body.get("type") == "history",
              f"GET [base]/_history answered {r.status_code} without a history Bundle")
        done.append("history-system")
    if "search-system" in declared:
        r = ctx.client.get("", params={"_count": "2", "_lastUpdated": "gt2000-01-01"})
        body = body_json(r)
        check(r.status_code == 200 and isinstance(body, dict) and body.get("type") == "searchset",
              f"GET [base]?_lastUpdated=... answered {r.status_code} without a searchset Bundle")
        done.append("search-system")
    if not done:
        skip("neither search-system nor history-system is declared")
    return ", ".join(done) + " work"


def _exercise(type_: str):
    def run(ctx: CheckContext) -> str:
        cap = ctx.cap
        declared = cap.interactions(type_)
        if not declared:
            skip(f"{type_} is not declared")
        done = []
        sample = ctx.sample(type_)
        rid = sample["id"]
        if "create" in declared and not ctx.read_only:
            done.append("create")
        if "read" in declared:
            r = ctx.client.get(f"{type_}/{rid}")
            check(r.status_code == 200, f"read of {type_}/{rid} answered {r.status_code}")
            done.append("read")
        version = (sample.get("meta") or {}).get("versionId")
        if "vread" in declared and version:
            r = ctx.client.get(f"{type_}/{rid}/_history/{version}")
            check(r.status_code == 200, f"vread of {type_}/{rid}/_history/{version} answered {r.status_code}")
            done.append("vread")
        if "search-type" in declared:
            r = ctx.client.get(type_, params={"_id": rid})
            body = body_json(r) or {}
            ids = [(e.get("resource") or {}).get("id") for e in body.get("entry") or []]
            check(r.status_code == 200 and rid in ids, f"search {type_}?_id={rid} did not find it")
            done.append("search-type")
        if "history-instance" in declared:
            r = ctx.client.get(f"{type_}/{rid}/_history")
            check(r.status_code == 200 and (body_json(r) or {}).get("type") == "history",
                  f"history of {type_}/{rid} answered {r.status_code} without a history Bundle")
            done.append("history-instance")
        if "history-type" in declared:
            r = ctx.client.get(f"{type_}/_history", params={"_count": "1"})
            check(r.status_code == 200 and (body_json(r) or {}).get("type") == "history",
                  f"history of {type_} answered {r.status_code} without a history Bundle")
            done.append("history-type")
        if ctx.read_only:
            return "read-only: " + ", ".join(done) + " work"
        if "update" in declared:
            changed = {k: v for k, v in sample.items() if k != "meta"}
            changed["language"] = "en-GB"
            r = ctx.client.put(f"{type_}/{rid}", changed)
            check(r.status_code == 200, f"update of {type_}/{rid} answered {r.status_code}")
            done.append("update")
        if "patch" in declared:
            r = ctx.client.request("PATCH", f"{type_}/{rid}", content=b'[{"op":"add","path":"/language",'
                                   b'"value":"en"}]', headers={"Content-Type": "application/json-patch+json"})
            check(r.status_code == 200, f"JSON Patch of {type_}/{rid} answered {r.status_code}")
            done.append("patch")
        if {"update", "patch"} & declared:
            ctx.refresh(type_)
        if "delete" in declared and "create" in declared:
            extra = ctx.create(type_, TEMPLATES[type_](ctx.run_id, _refs(ctx, type_)))
            r = ctx.client.delete(f"{type_}/{extra['id']}")
            check(r.status_code in (200, 202, 204), f"delete of {type_}/{extra['id']} answered {r.status_code}")
            r = ctx.client.get(f"{type_}/{extra['id']}")
            check(r.status_code in (404, 410), f"a deleted {type_} is still read ({r.status_code})")
            done.append("delete")
        return ", ".join(done) + " work"

    return run


def _refs(ctx: CheckContext, type_: str) -> dict[str, str]:
    from caregate.check.samples import dependencies

    return {dep: ctx.sample(dep)["id"] for dep in dependencies(type_)}


def _declares(type_: str):
    return lambda cap: bool(cap.interactions(type_))


for _type in TEMPLATES:
    test(f"capability.interactions.{_type}", f"Every interaction declared for {_type} works",
         f"Each interaction the CapabilityStatement declares for {_type} (create, read, vread, update, patch, "
         "delete, history, search) SHALL work: a system that declares what it cannot do fails.",
         CS + "#CapabilityStatement.rest.resource.interaction", mandatory=_declares(_type))(_exercise(_type))
