"""Subsets of a resource for `_summary` and `_elements` (https://hl7.org/fhir/R4/search.html#summary,
#elements). A subset is marked with the SUBSETTED security label so nobody mistakes it for the whole
resource (https://hl7.org/fhir/R4/v3/ObservationValue/cs.html#v3-ObservationValue-SUBSETTED)."""

from __future__ import annotations

from caregate.fhir.definitions import summary_elements

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
_ALWAYS = ("resourceType", "id", "meta")


def _mark(resource: dict) -> dict:
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, SUBSETTED]
    resource["meta"] = meta
    return resource


def subset(resource: dict, elements: list[str] | None = None, summary: str | None = None) -> dict:
    """The resource reduced per `_elements` (top-level names) or `_summary` (true, text, data, false)."""
    if elements:
        keep = set(elements) | set(_ALWAYS)
        out = {k: v for k, v in resource.items() if k in keep or _choice_base(k) in keep}
        return _mark(out)
    if summary == "true":
        keep = summary_elements(resource.get("resourceType", "")) | set(_ALWAYS)
        return _mark({k: v for k, v in resource.items() if k in keep or _choice_base(k) in keep})
    if summary == "text":
        keep = {"resourceType", "id", "meta", "text"}
        return _mark({k: v for k, v in resource.items() if k in keep})
    if summary == "data":
        return _mark({k: v for k, v in resource.items() if k != "text"})
    return resource


def _choice_base(key: str) -> str:
    """`valueQuantity` -> `value`: a choice element is asked for by its base name."""
    for i in range(1, len(key)):
        if key[i].isupper():
            return key[:i]
    return key
