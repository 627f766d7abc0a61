"""The narrative `div`: XHTML inside FHIR XML, one string in FHIR JSON.

JSON holds the whole div, with its XHTML namespace declaration, as a string (https://hl7.org/fhir/R4/json.html
the whole XHTML fragment is a single string); XML holds it as an element tree in the XHTML namespace
(xml.html, https://hl7.org/fhir/R4/narrative.html). Whenever the div in the input declares its own namespace and uses no
prefix declared outside it, its exact source text is kept (character references, quoting and whitespace
included), so a JSON div written into XML and read back is the same string, and XML's div reaches JSON as the
author wrote it. Otherwise the captured tree is written out again as XHTML with the namespace declared on the
div. Comments outside the div are dropped by the reader; inside a kept div they stay, being its content.
"""

from __future__ import annotations

from typing import Any

from caregate.fhir.xmlformat.errors import FhirStructureError
from caregate.fhir.xmlformat.model import XHTML_NS
from caregate.fhir.xmlformat.safe import new_parser, run_parser

__all__ = ["XhtmlCapture", "div_for_xml"]

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_AFTER_NAME = frozenset(b" \t\r\n>/")

# A node is [tag, attributes, children], children being nodes and strings.
Node = list[Any]


class XhtmlCapture:
    """Collects a div (its tree and the namespaces it declares and uses) while expat reads it."""

    __slots__ = ("declared", "has_content", "root", "stack", "start", "used")

    def __init__(self, start: int, tag: str, attrs: dict[str, str], declared: list[str]) -> None:
        self.start = start
        self.root: Node = [tag, attrs, []]
        self.stack: list[Node] = [self.root]
        self.declared = {_XML_NS, *declared}
        self.used: set[str] = set()
        self.has_content = False
        self._note(tag, attrs)

    def _note(self, tag: str, attrs: dict[str, str]) -> None:
        self.used.add(tag.rpartition(" ")[0])
        for name in attrs:
            if " " in name:
                self.used.add(name.rpartition(" ")[0])

    def open(self, tag: str, attrs: dict[str, str], declared: list[str]) -> None:
        self.has_content = True
        node: Node = [tag, attrs, []]
        self.stack[-1][2].append(node)
        self.stack.append(node)
        self.declared.update(declared)
        self._note(tag, attrs)

    def text(self, data: str) -> None:
        self.has_content = True
        children = self.stack[-1][2]
        if children and isinstance(children[-1], str):
            children[-1] += data
        else:
            children.append(data)

    def close(self) -> bool:
        """End of an element; True when it was the div itself."""
        self.stack.pop()
        return not self.stack

    def finish(self, source: bytes | None, end: int) -> str:
        """The div as a string: its source text when that stands alone, else the tree written out again.

        `source` is the UTF-8 input (None for other encodings) and `end` expat's byte index at the div's end
        event: the start of `</div>`, or just past `<div/>` for an empty-element tag.
        """
        start = self.start
        if (
            source is not None
            and self.used <= self.declared
            and source.startswith(b"<div", start)
            and source[start + 4] in _AFTER_NAME
        ):
            stop = end if not self.has_content and source[end - 2 : end] == b"/>" else source.find(b">", end) + 1
            if stop > start:
                try:
                    return source[start:stop].decode("utf-8")
                except UnicodeDecodeError:
                    pass
        return serialize(self.root)


def serialize(root: Node) -> str:
    """XHTML text of a captured tree, the XHTML namespace declared on the root (unqualified tags count as
    XHTML: a div written without its namespace in JSON still means XHTML)."""
    out: list[str] = []
    _write(root, out, "")
    return "".join(out)


def _write(node: Node, out: list[str], default: str) -> None:
    tag, attrs, children = node
    ns, _, local = tag.rpartition(" ")
    ns = ns or XHTML_NS
    out.append("<" + local)
    if ns != default:
        out.append(f' xmlns="{_escape(ns, True)}"')
        default = ns
    prefixes = 0
    for name, value in attrs.items():
        attr_ns, _, attr_local = name.rpartition(" ")
        if attr_ns == _XML_NS:
            attr_local = "xml:" + attr_local
        elif attr_ns:
            prefixes += 1
            out.append(f' xmlns:ns{prefixes}="{_escape(attr_ns, True)}"')
            attr_local = f"ns{prefixes}:{attr_local}"
        out.append(f' {attr_local}="{_escape(value, True)}"')
    if not children:
        out.append("/>")
        return
    out.append(">")
    for child in children:
        if isinstance(child, str):
            out.append(_escape(child, False))
        else:
            _write(child, out, default)
    out.append(f"</{local}>")


def _escape(text: str, attribute: bool) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")
    return text


def div_for_xml(text: str, location: str) -> str:
    """The XML to embed for a JSON div string: checked to be one well-formed XHTML `div` (no DOCTYPE or
    entities), kept as written when it declares its namespace, else written out again with it."""
    source = text.encode("utf-8")
    parser = new_parser("UTF-8", location)
    state: dict[str, Any] = {"capture": None, "declared": [], "result": None}

    def start(tag: str, attrs: dict[str, str]) -> None:
        declared, state["declared"] = state["declared"], []
        capture: XhtmlCapture | None = state["capture"]
        if capture is not None:
            capture.open(tag, attrs, declared)
            return
        ns, _, local = tag.rpartition(" ")
        if local != "div" or ns not in ("", XHTML_NS):
            raise FhirStructureError(
                f"the narrative must be an XHTML div, not <{local}>{f' in namespace {ns}' if ns else ''}",
                location,
            )
        state["capture"] = XhtmlCapture(parser.CurrentByteIndex, tag, attrs, declared)
        state["namespaced"] = ns == XHTML_NS

    def end(_: str) -> None:
        capture: XhtmlCapture = state["capture"]
        if capture.close():
            raw = source if state["namespaced"] else None
            state["result"] = capture.finish(raw, parser.CurrentByteIndex)

    def declare(_: str | None, uri: str | None) -> None:
        state["declared"].append(uri or "")

    def chars(data: str) -> None:
        capture: XhtmlCapture | None = state["capture"]
        if capture is not None:
            capture.text(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartNamespaceDeclHandler = declare
    parser.CharacterDataHandler = chars
    run_parser(parser, source, location)
    result: str = state["result"]
    return result
