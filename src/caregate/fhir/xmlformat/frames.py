"""The frames of the reader's stack: one per open FHIR element, each collecting its JSON form.

Repeating primitives are collected as the parallel `name`/`_name` arrays of json.html (primitive types), padded with
null as they grow; `tidy` drops either array when it holds only nulls once the parent element ends
(https://hl7.org/fhir/R4/json.html: the arrays exist to align ids and extensions with values).
"""

from __future__ import annotations

from typing import Any

from caregate.fhir.xmlformat.model import Element, TypeModel

__all__ = ["Complex", "Frame", "Holder", "Primitive", "add_primitive", "tidy"]


class Complex:
    """A resource, datatype or backbone element being read into `obj`."""

    __slots__ = ("index", "label", "model", "obj", "pending")

    def __init__(self, model: TypeModel, obj: dict[str, Any], label: str | None, index: int) -> None:
        self.model = model
        self.obj = obj
        self.label = label  # None for a resource inside a holder: the holder names the place
        self.index = index  # position in its array, -1 when the element does not repeat
        self.pending: list[str] | None = None  # repeating primitives whose arrays are tidied at the end


class Primitive:
    """A primitive element: its JSON value and its `_name` object (id, extensions), if any."""

    __slots__ = ("element", "extras", "index", "label", "value")

    def __init__(self, element: Element, index: int) -> None:
        self.element = element
        self.label = element.name
        self.index = index
        self.value: Any = None
        self.extras: dict[str, Any] | None = None


class Holder:
    """`contained`, `Bundle.entry.resource` and the like: one resource element inside."""

    __slots__ = ("index", "label", "resource", "type")

    def __init__(self, label: str, index: int, type_code: str) -> None:
        self.label = label
        self.index = index
        self.type = type_code  # `Resource`, or the one resource type allowed
        self.resource: dict[str, Any] | None = None


Frame = Complex | Primitive | Holder


def add_primitive(parent: Complex, frame: Primitive) -> None:
    """Put a finished primitive into its parent as `name` and `_name` (arrays when it repeats)."""
    obj, name = parent.obj, frame.label
    if frame.index < 0:
        if frame.value is not None:
            obj[name] = frame.value
        if frame.extras:
            obj["_" + name] = frame.extras
        return
    values = obj.get(name)
    if values is None:
        values = obj[name] = []
        obj["_" + name] = []
        if parent.pending is None:
            parent.pending = []
        parent.pending.append(name)
    values.append(frame.value)
    obj["_" + name].append(frame.extras or None)


def tidy(frame: Complex) -> dict[str, Any]:
    """Drop the value or `_` array of a repeating primitive when it holds only nulls (json.html)."""
    obj = frame.obj
    for name in frame.pending or ():
        if all(v is None for v in obj[name]):
            del obj[name]
        if all(e is None for e in obj["_" + name]):
            del obj["_" + name]
    return obj
