"""The element model both directions of the XML conversion walk, read from the generated `xml-model.json`.

`tools/gendefs.py` derives the file from the R4 StructureDefinition snapshots. XML needs more than JSON
does: elements must be written in definition order (https://hl7.org/fhir/R4/xml.html), some elements are
attributes (`id` of elements, `url` of Extension, `value` of primitives) and the narrative `div` is XHTML.
JSON in turn needs to know which elements repeat (always arrays) and which primitives are numbers or
booleans (https://hl7.org/fhir/R4/json.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from caregate.fhir.definitions import load_json

__all__ = ["FHIR_NS", "XHTML_NS", "Element", "TypeModel", "resource_model", "type_model"]

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"

# Element kinds: how an element is written in XML and read into JSON.
PRIMITIVE = "primitive"  # <name value="..."/>, JSON scalar plus `_name` for id/extensions
COMPLEX = "complex"  # <name>children</name>, JSON object
RESOURCE = "resource"  # <contained><Patient>...</Patient></contained>, JSON object with resourceType
# (type `Resource`, or one resource type: Bundle.entry.response.outcome is an OperationOutcome)
XHTML = "xhtml"  # the narrative div, JSON string holding the XHTML
ATTRIBUTE = "attribute"  # id="..." on elements, url="..." on Extension, JSON string


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a type as both formats name it (choice elements expanded: `valueQuantity`)."""

    name: str
    type: str  # type code, or the path of a backbone element (`Observation.component`)
    repeats: bool  # max != "1": a JSON array
    kind: str  # one of the kinds above
    json: str  # for primitives and attributes: "boolean", "number" or "string"; "" otherwise
    position: int  # place in definition order


@dataclass(frozen=True, slots=True)
class TypeModel:
    """A resource, complex datatype or backbone element: its elements in definition order."""

    name: str
    is_resource: bool
    elements: Mapping[str, Element]
    ordered: tuple[Element, ...]  # by position
    attributes: tuple[Element, ...]
    # JSON property -> element, with `_name` for the id/extensions of each primitive element
    json_keys: Mapping[str, Element]


@cache
def _types() -> dict[str, TypeModel]:
    data: dict[str, dict[str, Any]] = load_json("xml-model.json")
    primitives = {name: entry["json"] for name, entry in data.items() if entry["kind"] == "primitive"}
    models: dict[str, TypeModel] = {}
    for type_name, entry in data.items():
        if entry["kind"] == "primitive":
            continue
        elements: dict[str, Element] = {}
        json_keys: dict[str, Element] = {}
        for position, (name, (code, repeats, representation)) in enumerate(entry["elements"].items()):
            if representation == "attribute":
                kind = ATTRIBUTE
            elif representation == "xhtml":
                kind = XHTML
            elif code == "Resource" or data.get(code, {}).get("kind") == "resource":
                kind = RESOURCE
            elif code in primitives:
                kind = PRIMITIVE
            else:
                kind = COMPLEX
            element = Element(name, code, bool(repeats), kind, primitives.get(code, ""), position)
            elements[name] = element
            json_keys[name] = element
            if kind == PRIMITIVE:
                json_keys["_" + name] = element
        models[type_name] = TypeModel(
            type_name,
            entry["kind"] == "resource",
            elements,
            tuple(elements.values()),
            tuple(e for e in elements.values() if e.kind == ATTRIBUTE),
            json_keys,
        )
    return models


def type_model(name: str) -> TypeModel | None:
    """The model of a resource, complex datatype or backbone path; None for anything else."""
    return _types().get(name)


def resource_model(name: object) -> TypeModel | None:
    """The model of a concrete resource type; None when `name` is not one."""
    model = _types().get(name) if isinstance(name, str) else None
    return model if model is not None and model.is_resource else None
