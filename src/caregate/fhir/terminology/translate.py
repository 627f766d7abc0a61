"""ConceptMap `$translate` (https://hl7.org/fhir/R4/conceptmap-operation-translate.html).

A code (`system` + `code`, a `coding` or a `codeableConcept`) is looked up in the groups of one ConceptMap
(`url`, a `conceptMap` resource, or [base]/ConceptMap/[id]) or, when none is named, of every ConceptMap this
server holds whose source and target ValueSets match `source` and `target`. Each mapped target becomes a
`match` (equivalence, concept, product, source). `reverse` reads the maps backwards: the code is looked for
among the targets and the answer is the element it came from, with the direction-bearing equivalences
(`wider`/`narrower`, `subsumes`/`specializes`) turned round. A group's `unmapped` rule answers for a code the
group does not list: `provided` gives the code itself in the target system (`equal`), `fixed` gives the
fixed code (`inexact`), `other-map` asks the map it names. `dependency` inputs are not used: every target is
returned with its `product`s, and targets that depend on other elements say so only through the map itself.

`result` is true when at least one match is neither `unmatched` nor `disjoint`, as the definition says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caregate.errors import FhirError, incorrect
from caregate.fhir.terminology.content import concept_map, concept_maps
from caregate.fhir.validate import validate

__all__ = ["translate"]

Inputs = dict[str, Any]
_REVERSED = {"wider": "narrower", "narrower": "wider", "subsumes": "specializes", "specializes": "subsumes"}
_FAILED = ("unmatched", "disjoint")


def _canonical(cm: dict[str, Any], side: str) -> str | None:
    value = cm.get(f"{side}Uri") or cm.get(f"{side}Canonical")
    return value.split("|", 1)[0] if isinstance(value, str) else None


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _coding(system: str | None, code: str, display: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if system:
        out["system"] = system
    out["code"] = code
    if display:
        out["display"] = display
    return out


def _match(equivalence: str, concept: dict[str, Any] | None, source: str | None,
           products: list[Any] | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"name": "equivalence", "valueCode": equivalence}]
    if concept is not None:
        parts.append({"name": "concept", "valueCoding": concept})
    for product in products or ():
        if isinstance(product, dict) and isinstance(product.get("value"), str):
            parts.append({"name": "product", "part": [
                {"name": "element", "valueUri": product.get("property", "")},
                {"name": "concept", "valueCoding": _coding(product.get("system"), product["value"],
                                                           product.get("display"))}]})
    if source:
        parts.append({"name": "source", "valueUri": source})
    return {"name": "match", "part": parts}


def _forward(cm: dict[str, Any], system: str | None, code: str, target_system: str | None,
             find_map: Callable[[str], dict[str, Any] | None], depth: int) -> list[dict[str, Any]]:
    url = cm.get("url")
    out: list[dict[str, Any]] = []
    for group in cm.get("group") or ():
        if not isinstance(group, dict):
            continue
        g_source, g_target = group.get("source"), group.get("target")
        if system and g_source and g_source != system:
            continue
        if target_system and g_target != target_system:
            continue
        listed = False
        for element in group.get("element") or ():
            if not isinstance(element, dict) or element.get("code") != code:
                continue
            listed = True
            for target in element.get("target") or ():
                if not isinstance(target, dict):
                    continue
                concept = _coding(g_target, target["code"], target.get("display")) if target.get("code") else None
                out.append(_match(target.get("equivalence", "equivalent"), concept, url, target.get("product") or []))
        unmapped = group.get("unmapped")
        if listed or not isinstance(unmapped, dict):
            continue
        mode = unmapped.get("mode")
        if mode == "provided":
            out.append(_match("equal", _coding(g_target, code, None), url))
        elif mode == "fixed" and isinstance(unmapped.get("code"), str):
            out.append(_match("inexact", _coding(g_target, unmapped["code"], unmapped.get("display")), url))
        elif mode == "other-map" and isinstance(unmapped.get("url"), str) and depth < 5:
            other = find_map(unmapped["url"])
            if other is not None:
                out.extend(_forward(other, system, code, target_system, find_map, depth + 1))
    return out


def _reverse(cm: dict[str, Any], system: str | None, code: str, target_system: str | None) -> list[dict[str, Any]]:
    url = cm.get("url")
    out: list[dict[str, Any]] = []
    for group in cm.get("group") or ():
        if not isinstance(group, dict):
            continue
        g_source, g_target = group.get("source"), group.get("target")
        if system and g_target and g_target != system:
            continue
        if target_system and g_source != target_system:
            continue
        for element in group.get("element") or ():
            if not isinstance(element, dict) or not isinstance(element.get("code"), str):
                continue
            for target in element.get("target") or ():
                if isinstance(target, dict) and target.get("code") == code:
                    equivalence = target.get("equivalence", "equivalent")
                    out.append(_match(_REVERSED.get(equivalence, equivalence),
                                      _coding(g_source, element["code"], element.get("display")), url))
    return out


def _maps(args: Inputs, instance: dict[str, Any] | None, find_map: Callable[[str], dict[str, Any] | None],
          every_map: Callable[[], list[dict[str, Any]]], reverse: bool) -> list[dict[str, Any]]:
    if instance is not None:
        return [instance]
    given = args.get("conceptMap")
    if isinstance(given, dict):
        if given.get("resourceType") != "ConceptMap":
            raise incorrect("The 'conceptMap' parameter must hold a ConceptMap.", "conceptMap")
        errors = [i for i in validate(given) if i.severity in ("error", "fatal")]
        if errors:
            raise FhirError("incorrect", f"The 'conceptMap' parameter: {errors[0].diagnostics}", ("conceptMap",),
                            code=errors[0].code, extra=errors[1:])
        return [given]
    url = args.get("url")
    if isinstance(url, str) and url:
        found = find_map(url)
        if found is None:
            raise FhirError("not-found", f"The ConceptMap {url} is not known to this server.", ("url",),
                            code="not-found")
        return [found]
    source, target = args.get("source"), args.get("target")
    mine, theirs = ("target", "source") if reverse else ("source", "target")
    return [cm for cm in every_map()
            if (not isinstance(source, str) or _canonical(cm, mine) == source.split("|", 1)[0])
            and (not isinstance(target, str) or _canonical(cm, theirs) == target.split("|", 1)[0])]


def _candidates(args: Inputs) -> list[tuple[str | None, str]]:
    code = args.get("code")
    if isinstance(code, str) and code:
        system = args.get("system")
        if not isinstance(system, str) or not system:
            raise incorrect("$translate needs 'system' with 'code'.", "system")
        return [(system, code)]
    coding = args.get("coding")
    if isinstance(coding, dict) and isinstance(coding.get("code"), str):
        return [(coding.get("system"), coding["code"])]
    cc = args.get("codeableConcept")
    if isinstance(cc, dict):
        found = [(c.get("system"), c["code"]) for c in cc.get("coding") or ()
                 if isinstance(c, dict) and isinstance(c.get("code"), str)]
        if found:
            return found
    raise incorrect("$translate needs 'code' (with 'system'), 'coding' or 'codeableConcept'.", "code")


def translate(args: Inputs, instance: dict[str, Any] | None = None,
              find_map: Callable[[str], dict[str, Any] | None] = concept_map,
              every_map: Callable[[], list[dict[str, Any]]] = concept_maps) -> dict[str, Any]:
    """The Parameters answer (`result`, `message`, `match`*) for one $translate request.

    `find_map` and `every_map` say which ConceptMaps there are: the shipped ones unless the caller layers
    its own over them.
    """
    reverse = _truthy(args.get("reverse"))
    target_system = args.get("targetsystem") if isinstance(args.get("targetsystem"), str) else None
    candidates = _candidates(args)
    maps = _maps(args, instance, find_map, every_map, reverse)
    matches: list[dict[str, Any]] = []
    for system, code in candidates:
        for cm in maps:
            if reverse:
                matches.extend(_reverse(cm, system, code, target_system))
            else:
                matches.extend(_forward(cm, system, code, target_system, find_map, 0))
    ok = any(next(p["valueCode"] for p in m["part"] if p["name"] == "equivalence") not in _FAILED for m in matches)
    params: list[dict[str, Any]] = [{"name": "result", "valueBoolean": ok}]
    if not ok:
        shown = ", ".join(f"{s}#{c}" if s else c for s, c in candidates)
        if not maps:
            text = f"No ConceptMap this server holds matches the source and target asked for: {shown} not translated."
        elif len(maps) == 1:
            what = "has only unmatched or disjoint targets for" if matches else "has no mapping for"
            text = f"The ConceptMap {maps[0].get('url', '')} {what} {shown}."
        elif matches:
            text = f"The ConceptMaps this server holds give only unmatched or disjoint targets for {shown}."
        else:
            text = f"No ConceptMap this server holds maps {shown}."
        params.append({"name": "message", "valueString": text})
    params.extend(matches)
    return {"resourceType": "Parameters", "parameter": params}

