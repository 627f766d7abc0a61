"""FHIR XML -> FHIR JSON in one streaming pass over expat events.

The rules (https://hl7.org/fhir/R4/xml.html and json.html):

- the root element is the resource, in the namespace `http://hl7.org/fhir`; its name is the `resourceType`;
- a primitive is `<name value="..." id="...">` with optional `<extension>` children; in JSON the value is a
  string, number or boolean under `name`, and the id and extensions go to `_name` (json.html, primitive types);
- an element that may repeat is always a JSON array, even with one item; for repeating primitives `name` and
  `_name` are parallel arrays padded with null, and an array holding only nulls is left out;
- `id` on elements and `url` on Extension are XML attributes, JSON properties like any other;
- choice elements keep their type suffix (`valueQuantity`) in both formats;
- resources inside resources (`contained`, `Bundle.entry.resource`, `Parameters.parameter.resource`) are
  wrapped in the element naming their place: `<contained><Patient>...</Patient></contained>`;
- the narrative `div` is XHTML, a string in JSON (see xhtml.py);
- comments and processing instructions are dropped; attributes in other namespaces (`xsi:schemaLocation`)
  are ignored; anything else unknown is an error naming where it is.

Elements are accepted in any order (JSON has none); `to_xml` writes them in definition order.
"""

from __future__ import annotations

from typing import Any, NoReturn

from caregate.fhir.xmlformat.errors import FhirFormatError, FhirStructureError, FhirValueError
from caregate.fhir.xmlformat.frames import Complex, Frame, Holder, Primitive, add_primitive, tidy
from caregate.fhir.xmlformat.model import (
    ATTRIBUTE,
    COMPLEX,
    FHIR_NS,
    PRIMITIVE,
    RESOURCE,
    XHTML,
    XHTML_NS,
    TypeModel,
    resource_model,
    type_model,
)
from caregate.fhir.xmlformat.safe import new_parser, run_parser
from caregate.fhir.xmlformat.values import from_xml_text
from caregate.fhir.xmlformat.xhtml import XhtmlCapture

__all__ = ["MAX_DEPTH", "parse_xml"]

MAX_DEPTH = 200
"""Deepest element nesting accepted (FHIR resources, and XHTML inside a div, each): real resources stay far
below it, and it keeps whatever walks the result recursively (orjson, FHIRPath, to_xml) within its limits."""


def parse_xml(data: bytes | str) -> dict[str, Any]:
    """Read one FHIR XML resource into its FHIR JSON form (a plain dict, as orjson would give).

    Decimals that a float cannot write back as given (`1.50`) come as `FhirDecimal` (see values.py).
    Raises a `FhirFormatError` (a ValueError) naming the problem, its FHIRPath-like location and the line and
    column: `XmlSyntaxError` for malformed XML, `XmlForbiddenError` for DOCTYPEs and entities,
    `FhirStructureError` for unknown elements or the wrong namespace, `FhirValueError` for bad values.
    """
    return _Reader(data).read()


class _Reader:
    def __init__(self, data: bytes | str) -> None:
        if isinstance(data, str):
            self.input = data.encode("utf-8")
            self.parser = new_parser("UTF-8")  # the text's own encoding declaration no longer applies
        elif isinstance(data, bytes | bytearray | memoryview):
            self.input = bytes(data)
            self.parser = new_parser(None)
            self.parser.XmlDeclHandler = self._declaration
        else:
            raise TypeError(f"parse_xml takes bytes or str, not {type(data).__name__}")
        # The div's source text is kept only when the input is UTF-8 (xhtml.py); UTF-16 and UTF-32 show NULs.
        self.source: bytes | None = None if b"\x00" in self.input[:4] else self.input
        self.stack: list[Frame] = []
        self.result: dict[str, Any] | None = None
        self.xhtml: XhtmlCapture | None = None
        self.declared: list[str] = []
        parser = self.parser
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.StartNamespaceDeclHandler = self._namespace

    def read(self) -> dict[str, Any]:
        run_parser(self.parser, self.input)
        if self.result is None:  # pragma: no cover - expat reports a missing root first
            raise FhirStructureError("no resource found")
        return self.result

    # -- errors --------------------------------------------------------------------------------------

    def _path(self, last: str | None = None) -> str:
        parts = [
            frame.label if frame.index < 0 else f"{frame.label}[{frame.index}]"
            for frame in self.stack
            if frame.label is not None
        ]
        if last:
            parts.append(last)
        return ".".join(parts)

    def _fail(self, kind: type[FhirFormatError], message: str, last: str | None = None) -> NoReturn:
        parser = self.parser
        raise kind(message, self._path(last), parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)

    # -- expat handlers ------------------------------------------------------------------------------

    def _declaration(self, _version: str | None, encoding: str | None, _standalone: int) -> None:
        if encoding and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            self.source = None

    def _namespace(self, _prefix: str | None, uri: str | None) -> None:
        self.declared.append(uri or "")

    def _text(self, data: str) -> None:
        if self.xhtml is not None:
            self.xhtml.text(data)
        elif data.strip(" \t\r\n"):
            self._fail(FhirStructureError, f"text {data.strip()[:40]!r} is not allowed here (values go in @value)")

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        declared = self.declared
        if declared:
            self.declared = []
        if self.xhtml is not None:
            if len(self.xhtml.stack) >= MAX_DEPTH:
                self._fail(FhirStructureError, f"the narrative nests elements more than {MAX_DEPTH} deep")
            self.xhtml.open(tag, attrs, declared)
            return
        ns, _, local = tag.rpartition(" ")
        if len(self.stack) >= MAX_DEPTH:
            self._fail(FhirStructureError, f"elements nest more than {MAX_DEPTH} deep")
        if not self.stack:
            self.stack.append(self._resource(ns, local, attrs, local))
            return
        parent = self.stack[-1]
        if isinstance(parent, Complex):
            frame = self._child(parent, ns, local, tag, attrs, declared)
            if frame is not None:
                self.stack.append(frame)
        elif isinstance(parent, Primitive):
            if ns != FHIR_NS or local != "extension":
                self._fail(FhirStructureError, f"a primitive element holds only extensions, not <{local}>")
            if parent.extras is None:
                parent.extras = {}
            extension = type_model("Extension")
            assert extension is not None
            index = len(parent.extras.get("extension", ()))
            self.stack.append(Complex(extension, self._attributes(extension, attrs, local), local, index))
        else:
            if parent.resource is not None:
                self._fail(FhirStructureError, f"<{parent.label}> holds one resource only")
            if parent.type not in ("Resource", local):
                self._fail(FhirStructureError, f"<{parent.label}> holds a {parent.type}, not <{local}>")
            self.stack.append(self._resource(ns, local, attrs, None))

    def _resource(self, ns: str, local: str, attrs: dict[str, str], label: str | None) -> Complex:
        if ns != FHIR_NS:
            where = f"namespace {ns}" if ns else "no namespace"
            self._fail(FhirStructureError, f"<{local}> is in {where}: FHIR resources are in {FHIR_NS}", local)
        model = resource_model(local)
        if model is None:
            self._fail(FhirStructureError, f"<{local}> is not an R4 resource type", local)
        return Complex(model, self._attributes(model, attrs, local), label, -1)

    def _attributes(self, model: TypeModel, attrs: dict[str, str], local: str) -> dict[str, Any]:
        obj: dict[str, Any] = {"resourceType": local} if model.is_resource else {}
        for name, text in attrs.items():
            element = model.elements.get(name)
            if element is not None and element.kind == ATTRIBUTE:
                obj[name] = text
            elif " " not in name:  # attributes in other namespaces (xsi:schemaLocation) are not FHIR's
                self._fail(FhirStructureError, f"unknown attribute {name!r} on <{local}>", local)
        return obj

    def _child(
        self, parent: Complex, ns: str, local: str, tag: str, attrs: dict[str, str], declared: list[str]
    ) -> Frame | None:
        element = parent.model.elements.get(local)
        if element is None or element.kind == ATTRIBUTE:
            self._fail(FhirStructureError, f"unknown element <{local}> in {parent.model.name}", local)
        obj = parent.obj
        if element.kind == XHTML:
            if ns != XHTML_NS:
                self._fail(FhirStructureError, f"<{local}> must be in the XHTML namespace {XHTML_NS}", local)
            if local in obj:
                self._fail(FhirStructureError, f"<{local}> appears more than once", local)
            self.xhtml = XhtmlCapture(self.parser.CurrentByteIndex, tag, attrs, declared)
            return None
        if ns != FHIR_NS:
            where = f"namespace {ns}" if ns else "no namespace"
            self._fail(FhirStructureError, f"<{local}> is in {where}, not {FHIR_NS}", local)
        if element.repeats:
            index = len(obj.get(local, ()))
        elif local in obj or (element.kind == PRIMITIVE and "_" + local in obj):
            self._fail(FhirStructureError, f"<{local}> appears more than once but does not repeat", local)
        else:
            index = -1
        if element.kind == PRIMITIVE:
            frame = Primitive(element, index)
            for name, text in attrs.items():
                if name == "value":
                    try:
                        frame.value = from_xml_text(text, element.type, element.json)
                    except ValueError as error:
                        self._fail(FhirValueError, str(error), f"{local}[{index}]" if index >= 0 else local)
                elif name == "id":
                    frame.extras = {"id": text}
                elif " " not in name:
                    self._fail(FhirStructureError, f"unknown attribute {name!r} on <{local}>", local)
            return frame
        if element.kind == COMPLEX:
            model = type_model(element.type)
            assert model is not None, element.type
            return Complex(model, self._attributes(model, attrs, local), local, index)
        assert element.kind == RESOURCE
        for name in attrs:
            if " " not in name:
                self._fail(FhirStructureError, f"unknown attribute {name!r} on <{local}>", local)
        return Holder(local, index, element.type)

    def _end(self, _tag: str) -> None:
        xhtml = self.xhtml
        if xhtml is not None:
            if xhtml.close():
                self.xhtml = None
                parent = self.stack[-1]
                assert isinstance(parent, Complex)
                parent.obj["div"] = xhtml.finish(self.source, self.parser.CurrentByteIndex)
            return
        frame = self.stack[-1]
        if isinstance(frame, Complex):
            value: Any = tidy(frame)
        elif isinstance(frame, Holder):
            if frame.resource is None:
                self._fail(FhirStructureError, f"<{frame.label}> must hold a resource")
            value = frame.resource
        else:
            if frame.value is None and not frame.extras:
                self._fail(FhirValueError, "a primitive element needs a value, an id or extensions")
            self.stack.pop()
            add_primitive(self.stack[-1], frame)  # type: ignore[arg-type]
            return
        self.stack.pop()
        if not self.stack:
            self.result = value
            return
        parent = self.stack[-1]
        if isinstance(parent, Complex):
            if frame.index >= 0:
                parent.obj.setdefault(frame.label, []).append(value)
            else:
                parent.obj[frame.label] = value  # type: ignore[index]
        elif isinstance(parent, Primitive):
            parent.extras.setdefault("extension", []).append(value)  # type: ignore[union-attr]
        else:
            parent.resource = value
