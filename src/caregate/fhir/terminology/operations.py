"""The FHIR terminology operations as pure functions from input parameters to the response resource.

ValueSet `$expand` and `$validate-code`, CodeSystem `$lookup`, `$validate-code` and `$subsumes`
(https://hl7.org/fhir/R4/terminology-service.html), answering ValueSet or Parameters resources as their R4
OperationDefinitions say. Inputs come as one `Inputs` map whatever the HTTP form (GET query or POST
Parameters). Problems raise FhirError: an unknown ValueSet or CodeSystem is 404, one whose content is not
shipped (SNOMED CT) is 422 saying so, a missing or malformed parameter is 400.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from caregate.errors import FhirError, Issue, incorrect
from caregate.fhir.terminology.content import CodeSystem, code_system, value_set
from caregate.fhir.terminology.expand import LICENSED, Concept, NotExpandable, expand
from caregate.fhir.validate import validate

__all__ = ["Inputs", "expand_operation", "inputs", "lookup", "resolve_value_set", "subsumes", "validate_code_cs",
           "validate_code_vs"]

MAX_EXPANSION = 10_000  # concepts in one $expand answer without `count`
Inputs = dict[str, Any]  # parameter name -> first value (str, or a dict for Coding/CodeableConcept/resource)
_VALUE_KEYS = ("valueUri", "valueCode", "valueString", "valueInteger", "valueBoolean", "valueCanonical",
               "valueCoding", "valueCodeableConcept", "valueDateTime", "resource")


def inputs(query: list[tuple[str, str]], body: object) -> Inputs:
    """Query parameters and, for POST, a Parameters body, as one map (the body wins)."""
    out: Inputs = {}
    for k, v in query:
        out.setdefault(k, v)
    if body is not None:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise incorrect("A terminology operation takes a Parameters resource as its POST body.")
        for p in body.get("parameter") or ():
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                value = next((p[k] for k in _VALUE_KEYS if k in p), None)
                if value is not None:
                    out[p["name"]] = value
    return out


def _int(args: Inputs, name: str, default: int | None) -> int | None:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        raise incorrect(f"The parameter '{name}' must be a non-negative integer.", name)
    return value


def _concepts(vs: dict[str, Any]) -> list[Concept]:
    try:
        return expand(vs)
    except NotExpandable as exc:
        raise FhirError("invalid", f"The ValueSet {vs.get('url', '')} cannot be expanded: {exc}.",
                        code="not-supported") from None


def resolve_value_set(args: Inputs, instance: dict[str, Any] | None) -> dict[str, Any]:
    """The ValueSet an operation works on: the instance, a `valueSet` resource, or `url` (shipped)."""
    if instance is not None:
        return instance
    given = args.get("valueSet")
    if isinstance(given, dict):
        errors = [i for i in validate(given) if i.severity in ("error", "fatal")]
        if given.get("resourceType") != "ValueSet" or errors:
            first = errors[0] if errors else Issue("The 'valueSet' parameter must hold a ValueSet.", "invalid")
            raise FhirError("incorrect", f"The 'valueSet' parameter: {first.diagnostics}", ("valueSet",),
                            code=first.code, extra=errors[1:])
        return given
    url = args.get("url") or args.get("context")
    if not isinstance(url, str) or not url:
        raise incorrect("Say which ValueSet: the 'url' parameter, a 'valueSet' resource, or [base]/ValueSet/[id].",
                        "url")
    found = value_set(url)
    if found is None:
        raise FhirError("not-found", f"The ValueSet {url} is not known to this server.", ("url",), code="not-found")
    return found


@cache
def _words(display: str, code: str) -> tuple[str, ...]:
    """A concept's searchable words, lower case: its code and the words of its display."""
    return (code.lower(), *display.lower().replace("-", " ").split())


def _matches(words: list[str], concept: Concept) -> bool:
    """The `filter` text: every word of it must start a word of the display, or the code."""
    own = _words(concept[2], concept[1])
    return all(any(d.startswith(w) for d in own) for w in words)


def _database_include(vs: dict[str, Any]) -> tuple[Any, str, list[dict[str, Any]]] | None:
    """(code system, url, filters) when the ValueSet is one filtered include of loaded content (SNOMED CT),
    which its database can filter, count, page and test membership of without listing every concept."""
    compose = vs.get("compose")
    if not isinstance(compose, dict) or compose.get("exclude") or len(compose.get("include") or ()) != 1:
        return None
    inc = compose["include"][0]
    system = inc.get("system") if isinstance(inc, dict) else None
    if not isinstance(system, str) or inc.get("concept") or inc.get("valueSet"):
        return None
    cs = code_system(system)
    if cs is None or not cs.complete or not hasattr(cs, "page"):
        return None
    return cs, system, list(inc.get("filter") or [])


def _database_page(vs: dict[str, Any], text: object, offset: int,
                   count: int | None) -> tuple[int, list[Concept]] | None:
    """Total and page straight from loaded content, when `_database_include` allows."""
    direct = _database_include(vs)
    if direct is None:
        return None
    cs, system, filters = direct
    try:
        total, rows = cs.page(filters, text if isinstance(text, str) else None, offset, count)
    except NotExpandable as exc:
        raise FhirError("invalid", f"The ValueSet {vs.get('url', '')} cannot be expanded: {exc}.",
                        code="not-supported") from None
    if count is None and total > MAX_EXPANSION:
        raise FhirError("invalid", f"The ValueSet {vs.get('url', '')} has {total} concepts: ask for a page "
                        "with 'count' (and 'offset'), or narrow it with 'filter'.", ("count",), code="too-costly")
    return total, [(system, code, display) for code, display in rows]


def _membership(vs: dict[str, Any]) -> Callable[[str | None, str], list[tuple[str, str]]]:
    """A function (system, code) -> [(system, display)] of the ValueSet's concepts with that code."""
    direct = _database_include(vs)
    if direct is not None:
        cs, url, filters = direct

        def ask(system: str | None, code: str) -> list[tuple[str, str]]:
            if system not in (None, url):
                return []
            try:
                _, rows = cs.page([*filters, {"property": "concept", "op": "=", "value": code}], None, 0, 1)
            except NotExpandable as exc:
                raise FhirError("invalid", f"The ValueSet {vs.get('url', '')} cannot be expanded: {exc}.",
                                code="not-supported") from None
            return [(url, d) for _, d in rows]

        return ask
    index: dict[str, list[tuple[str, str]]] = {}
    for s, c, d in _concepts(vs):
        index.setdefault(c, []).append((s, d))
    return lambda system, code: [(s, d) for s, d in index.get(code, ()) if system is None or s == system]


def expand_operation(vs: dict[str, Any], args: Inputs, timestamp: str) -> dict[str, Any]:
    """ValueSet/$expand (valueset-operation-expand.html): the ValueSet with an `expansion`, paged."""
    text = args.get("filter")
    offset = _int(args, "offset", 0) or 0
    count = _int(args, "count", None)
    fast = _database_page(vs, text, offset, count)
    if fast is not None:
        total, page = fast
    else:
        concepts = _concepts(vs)
        if isinstance(text, str) and text.strip():
            words = text.lower().split()
            concepts = [c for c in concepts if _matches(words, c)]
        total = len(concepts)
        page = concepts[offset:] if count is None else concepts[offset:offset + count]
    parameters: list[dict[str, Any]] = []
    if isinstance(text, str):
        parameters.append({"name": "filter", "valueString": text})
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    if offset:
        parameters.append({"name": "offset", "valueInteger": offset})
    expansion: dict[str, Any] = {"identifier": f"urn:uuid:{uuid.uuid4()}", "timestamp": timestamp,
                                 "total": total, "offset": offset}
    if parameters:
        expansion["parameter"] = parameters
    contains = [{"system": s, "code": c, **({"display": d} if d else {})} for s, c, d in page]
    if contains:
        expansion["contains"] = contains
    out = {k: v for k, v in vs.items() if k not in ("compose", "expansion", "text")}
    out["resourceType"] = "ValueSet"
    out["expansion"] = expansion
    return out


def _coded(args: Inputs, code_name: str = "code", coding_name: str = "coding") -> list[tuple[str | None, str, str]]:
    """(system, code, display) candidates from code+system, a Coding or a CodeableConcept."""
    if isinstance(args.get(code_name), str):
        system = args.get("system") or args.get("url")
        return [(system if isinstance(system, str) else None, args[code_name], args.get("display") or "")]
    coding = args.get(coding_name)
    if isinstance(coding, dict) and isinstance(coding.get("code"), str):
        return [(coding.get("system"), coding["code"], coding.get("display") or "")]
    cc = args.get("codeableConcept")
    if isinstance(cc, dict):
        return [(c.get("system"), c["code"], c.get("display") or "") for c in cc.get("coding") or ()
                if isinstance(c, dict) and isinstance(c.get("code"), str)]
    return []


def _result(ok: bool, message: str | None, display: str | None) -> dict[str, Any]:
    params: list[dict[str, Any]] = [{"name": "result", "valueBoolean": ok}]
    if message:
        params.append({"name": "message", "valueString": message})
    if display:
        params.append({"name": "display", "valueString": display})
    return {"resourceType": "Parameters", "parameter": params}


def validate_code_vs(vs: dict[str, Any], args: Inputs) -> dict[str, Any]:
    """ValueSet/$validate-code (valueset-operation-validate-code.html): Parameters result/message/display."""
    candidates = _coded(args)
    if not candidates:
        raise incorrect("$validate-code needs 'code' (with 'system'), 'coding' or 'codeableConcept'.", "code")
    find = _membership(vs)
    for system, code, display in candidates:
        found = find(system, code)
        if found:
            right = found[0][1]
            if display and right and display != right:
                return _result(False, f"The display '{display}' is not the display of {code}: '{right}'.", right)
            return _result(True, None, right)
    system, code, _ = candidates[0]
    where = f"{system}#{code}" if system else code
    return _result(False, f"The code {where} is not in the ValueSet {vs.get('url', '')}.", None)


def _system(args: Inputs, instance: CodeSystem | None, code_name: str, coding_name: str) -> tuple[CodeSystem, str]:
    found = _coded(args, code_name, coding_name)
    if not found:
        raise incorrect(f"The operation needs '{code_name}' (with 'system') or '{coding_name}'.", code_name)
    system, code, _ = found[0]
    if instance is not None:
        return instance, code
    if not system:
        raise incorrect("Say which code system: the 'system' parameter (or url), or [base]/CodeSystem/[id].",
                        "system")
    return code_system_or_fail(system), code


def code_system_or_fail(system: str) -> CodeSystem:
    cs = code_system(system)
    if cs is not None and cs.complete:
        return cs
    if system in LICENSED or cs is not None:
        what = f"{LICENSED[system]} content, which is licensed and" if system in LICENSED else \
            f"the concepts of {system}, which are"
        raise FhirError("invalid", f"This needs {what} not loaded on this server.", ("system",),
                        code="not-supported")
    if cs is None:
        raise FhirError("not-found", f"The code system {system} is not known to this server.", ("system",),
                        code="not-found")
    return cs


def lookup(args: Inputs, instance: CodeSystem | None = None) -> dict[str, Any]:
    """CodeSystem/$lookup (codesystem-operation-lookup.html): name, version, display and parent/child."""
    cs, code = _system(args, instance, "code", "coding")
    if code not in cs.display:
        raise FhirError("not-found", f"The code {code} is not in the code system {cs.url}.", ("code",),
                        code="not-found")
    params: list[dict[str, Any]] = [{"name": "name", "valueString": cs.meta.get("name", cs.url)}]
    if "version" in cs.meta:
        params.append({"name": "version", "valueString": cs.meta["version"]})
    params.append({"name": "display", "valueString": cs.display[code] or code})
    for rel, codes in (("parent", cs.parents.get(code, ())), ("child", cs.children.get(code, ()))):
        for other in codes:
            params.append({"name": "property", "part": [{"name": "code", "valueCode": rel},
                                                        {"name": "value", "valueCode": other}]})
    return {"resourceType": "Parameters", "parameter": params}


def validate_code_cs(args: Inputs, instance: CodeSystem | None = None) -> dict[str, Any]:
    """CodeSystem/$validate-code (codesystem-operation-validate-code.html)."""
    if instance is None and isinstance(args.get("url"), str) and "system" not in args:
        args = {**args, "system": args["url"]}
    cs, code = _system(args, instance, "code", "coding")
    display = _coded(args)[0][2]
    if code not in cs.display:
        return _result(False, f"The code {code} is not in the code system {cs.url}.", None)
    right = cs.display[code]
    if display and right and display != right:
        return _result(False, f"The display '{display}' is not the display of {code}: '{right}'.", right)
    return _result(True, None, right)


def subsumes(args: Inputs, instance: CodeSystem | None = None) -> dict[str, Any]:
    """CodeSystem/$subsumes (codesystem-operation-subsumes.html): the relationship of codeA to codeB."""
    cs, a = _system(args, instance, "codeA", "codingA")
    _, b = _system({**args, "system": cs.url}, cs, "codeB", "codingB")
    other = args.get("codingB")
    if isinstance(other, dict) and other.get("system") not in (None, cs.url):
        raise incorrect(f"codingB is from {other.get('system')}, not {cs.url}: $subsumes compares codes of one "
                        "code system.", "codingB")
    for code, name in ((a, "codeA"), (b, "codeB")):
        if code not in cs.display:
            raise FhirError("not-found", f"The code {code} is not in the code system {cs.url}.", (name,),
                            code="not-found")
    if a == b:
        outcome = "equivalent"
    elif cs.subsumes(a, b):
        outcome = "subsumes"
    elif cs.subsumes(b, a):
        outcome = "subsumed-by"
    else:
        outcome = "not-subsumed"
    return {"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": outcome}]}
