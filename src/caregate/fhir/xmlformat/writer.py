"""FHIR JSON -> FHIR XML, elements in the order the StructureDefinitions give them.

The reverse of reader.py (https://hl7.org/fhir/R4/xml.html, json.html): `name`/`_name` pairs become
`<name id="..." value="..."><extension .../></name>`, parallel arrays of repeating primitives are zipped back
(a null on either side is simply absent), `id` and Extension `url` become attributes, resources inside
resources are wrapped in their element, and the div is embedded as XHTML. XML requires elements in the
order the definitions give (https://hl7.org/fhir/R4/xml.html), which JSON does not keep, so the keys of each
object are sorted by their place in the model. Unknown properties and values of the wrong JSON type are
errors naming their location.
"""

from __future__ import annotations

from typing import Any, NoReturn

from caregate.fhir.xmlformat.errors import FhirFormatError, FhirStructureError, FhirValueError
from caregate.fhir.xmlformat.model import (
    ATTRIBUTE,
    COMPLEX,
    FHIR_NS,
    PRIMITIVE,
    RESOURCE,
    Element,
    TypeModel,
    resource_model,
    type_model,
)
from caregate.fhir.xmlformat.values import escape_attribute, to_xml_text
from caregate.fhir.xmlformat.xhtml import div_for_xml

__all__ = ["to_xml"]

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
# A location is built lazily as (parent location, name, index or -1); formatted only for an error.
_Loc = tuple[Any, str, int] | None


def to_xml(resource: dict[str, Any], *, pretty: bool = False) -> bytes:
    """Write one FHIR JSON resource as FHIR XML (UTF-8, with an XML declaration; indented when `pretty`).

    Raises a `FhirFormatError` (a ValueError) naming the problem and its FHIRPath-like location:
    `FhirStructureError` for unknown properties or a missing/unknown resourceType, `FhirValueError` for values
    of the wrong JSON type or characters XML 1.0 cannot hold.
    """
    writer = _Writer(pretty)
    try:
        writer.resource(resource, None, 0, root=True)
    except RecursionError:
        raise FhirStructureError("the resource is nested too deeply to write as XML") from None
    return "".join(writer.out).encode("utf-8")


def _format(loc: _Loc) -> str:
    parts: list[str] = []
    while loc is not None:
        loc, name, index = loc
        parts.append(name if index < 0 else f"{name}[{index}]")
    return ".".join(reversed(parts))


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


class _Writer:
    def __init__(self, pretty: bool) -> None:
        self.out: list[str] = [_DECLARATION]
        self.pretty = pretty
        self.indents: list[str] = []

    def _indent(self, depth: int) -> str:
        if not self.pretty:
            return ""
        while len(self.indents) <= depth:
            self.indents.append("\n" + "  " * len(self.indents))
        return self.indents[depth]

    @staticmethod
    def _fail(kind: type[FhirFormatError], message: str, loc: _Loc) -> NoReturn:
        raise kind(message, _format(loc))

    def resource(self, resource: object, loc: _Loc, depth: int, root: bool = False) -> None:
        if not isinstance(resource, dict):
            self._fail(FhirStructureError, f"a resource must be a JSON object, not {_kind(resource)}", loc)
        rtype = resource.get("resourceType")
        model = resource_model(rtype)
        if model is None:
            problem = "has no resourceType" if rtype is None else f"has resourceType {rtype!r}, not an R4 type"
            self._fail(FhirStructureError, f"the resource {problem}", loc)
        if root:
            loc = (None, rtype, -1)
        indent = self._indent(depth)
        start = f'{indent}<{rtype} xmlns="{FHIR_NS}"' if root else f"{indent}<{rtype}"
        self._element(start, rtype, resource, model, loc, depth)

    def _element(self, start: str, name: str, obj: dict[str, Any], model: TypeModel, loc: _Loc, depth: int) -> None:
        """`start` is the open tag up to its attributes; children follow, or the tag closes empty."""
        out = self.out
        mark = len(out)
        out.append(start + ">")
        self._children(obj, model, loc, depth + 1)
        if len(out) == mark + 1:
            out[mark] = start + "/>"
        else:
            out.append(f"{self._indent(depth)}</{name}>")

    def _children(self, obj: dict[str, Any], model: TypeModel, loc: _Loc, depth: int) -> None:
        positions: set[int] = set()
        keys = model.json_keys
        for key in obj:
            element = keys.get(key)
            if element is None:
                if key == "resourceType" and model.is_resource:
                    continue
                self._fail(FhirStructureError, f"unknown property {key!r} in {model.name}", loc)
            if element.kind != ATTRIBUTE:
                positions.add(element.position)
        ordered = model.ordered
        for position in sorted(positions):
            element = ordered[position]
            name = element.name
            if element.kind == PRIMITIVE:
                self._primitives(obj, element, loc, depth)
                continue
            value = obj.get(name)
            if value is None:
                continue
            if element.repeats:
                if not isinstance(value, list):
                    self._fail(FhirStructureError, f"{name} repeats: it must be an array", (loc, name, -1))
                items = value
            elif isinstance(value, list):
                self._fail(FhirStructureError, f"{name} does not repeat: it cannot be an array", (loc, name, -1))
            else:
                items = [value]
            for i, item in enumerate(items):
                here = (loc, name, i if element.repeats else -1)
                if element.kind == COMPLEX:
                    self._complex(name, item, element, here, depth)
                elif element.kind == RESOURCE:
                    self._wrapped(name, item, element, here, depth)
                else:  # the narrative div
                    if not isinstance(item, str):
                        self._fail(FhirValueError, f"the div must be a string of XHTML, not {_kind(item)}", here)
                    self.out.append(self._indent(depth) + div_for_xml(item, _format(here)))

    def _wrapped(self, name: str, item: object, element: Element, loc: _Loc, depth: int) -> None:
        """A resource inside a resource: `<contained><Patient>...</Patient></contained>` (xml.html)."""
        if element.type != "Resource" and isinstance(item, dict) and item.get("resourceType") != element.type:
            self._fail(FhirStructureError, f"{name} must be a {element.type} resource", loc)
        indent = self._indent(depth)
        self.out.append(f"{indent}<{name}>")
        self.resource(item, loc, depth + 1)
        self.out.append(f"{indent}</{name}>")

    def _complex(self, name: str, value: object, element: Element, loc: _Loc, depth: int) -> None:
        if not isinstance(value, dict):
            self._fail(FhirStructureError, f"{name} must be a JSON object, not {_kind(value)}", loc)
        model = type_model(element.type)
        assert model is not None, element.type
        start = f"{self._indent(depth)}<{name}"
        for attribute in model.attributes:
            text = value.get(attribute.name)
            if text is not None:
                start += f' {attribute.name}="{self._text(text, attribute, (loc, attribute.name, -1))}"'
        self._element(start, name, value, model, loc, depth)

    def _text(self, value: object, element: Element, loc: _Loc) -> str:
        try:
            return escape_attribute(to_xml_text(value, element.type, element.json or "string"))
        except ValueError as error:
            self._fail(FhirValueError, str(error), loc)

    def _primitives(self, obj: dict[str, Any], element: Element, loc: _Loc, depth: int) -> None:
        name = element.name
        value, extras = obj.get(name), obj.get("_" + name)
        if not element.repeats:
            if isinstance(value, list) or isinstance(extras, list):
                self._fail(FhirStructureError, f"{name} does not repeat: it cannot be an array", (loc, name, -1))
            if value is not None or extras is not None:
                self._primitive(name, value, extras, element, (loc, name, -1), depth)
            return
        values = [] if value is None else value
        extra_list = [] if extras is None else extras
        if not isinstance(values, list) or not isinstance(extra_list, list):
            self._fail(FhirStructureError, f"{name} repeats: it must be an array", (loc, name, -1))
        for i in range(max(len(values), len(extra_list))):
            item = values[i] if i < len(values) else None
            extra = extra_list[i] if i < len(extra_list) else None
            self._primitive(name, item, extra, element, (loc, name, i), depth)

    def _primitive(self, name: str, value: object, extras: object, element: Element, loc: _Loc, depth: int) -> None:
        start = f"{self._indent(depth)}<{name}"
        extensions: object = None
        has_id = False
        if extras is not None:
            if not isinstance(extras, dict):
                self._fail(FhirStructureError, f"_{name} must hold objects with id and extension", loc)
            for key, item in extras.items():
                if key == "id" and item is not None:
                    start += f' id="{self._text(item, _ID, loc)}"'
                    has_id = True
                elif key == "extension":
                    extensions = item
                elif key != "id":
                    self._fail(FhirStructureError, f"unknown property {key!r} in _{name}", loc)
        if value is not None:
            start += f' value="{self._text(value, element, loc)}"'
        elif not extensions and not has_id:
            self._fail(FhirValueError, f"{name} needs a value, an id or extensions", loc)
        if not extensions:
            self.out.append(start + "/>")
            return
        if not isinstance(extensions, list):
            self._fail(FhirStructureError, "extension repeats: it must be an array", (loc, "extension", -1))
        self.out.append(start + ">")
        for i, extension in enumerate(extensions):
            self._complex("extension", extension, _EXTENSION, (loc, "extension", i), depth + 1)
        self.out.append(f"{self._indent(depth)}</{name}>")


_ID = Element("id", "string", False, ATTRIBUTE, "string", 0)
_EXTENSION = Element("extension", "Extension", True, COMPLEX, "", 0)
