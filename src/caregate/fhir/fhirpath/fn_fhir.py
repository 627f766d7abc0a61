"""The FHIR additions to FHIRPath (https://hl7.org/fhir/R4/fhirpath.html#functions) and the date/time
utility functions `now()`, `today()` and `timeOfDay()` (N1 §5.9).

- `extension(url)`: the extensions with that url, on complex elements and on primitives (`_birthDate`).
- `hasValue()` / `getValue()`: whether a primitive has a value (not only extensions), and that value.
- `resolve()`: contained references (`#id`), entries of an enclosing Bundle, then the caller's resolver.
- `memberOf()` needs a terminology service, which this engine does not have: it raises
  FhirPathNotSupported rather than guess.
- `htmlChecks()`: narrative XHTML limited to the elements and attributes R4 allows (narrative.html#xhtml):
  no scripts, forms, frames, event handlers or javascript: links, and a `div` in the XHTML namespace.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from caregate.fhir.fhirpath.errors import FhirPathEvaluationError, FhirPathNotSupported
from caregate.fhir.fhirpath.model import Node, node_value, read_member, resource_node
from caregate.fhir.fhirpath.runtime import Env, function
from caregate.fhir.fhirpath.values import single, to_system

__all__: list[str] = []

_ALLOWED_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "address",
        "b",
        "big",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "tt",
        "ul",
        "var",
    ]
)
_URL_ATTRIBUTES = frozenset(("href", "src"))


@function("extension", 1)
def _extension(env: Env, items: list, url: list) -> list:
    wanted = to_system(single(url, "extension()"))
    if wanted is None:
        return []
    out: list = []
    for item in items:
        if item.__class__ is not Node:
            continue
        found: list = []
        if item.data.__class__ is dict:
            read_member(found, item, "extension", "Extension", False)
        elif item.ext is not None:
            read_member(
                found, Node(item.ext, None, None, item.parent, item.name, item.index), "extension", "Extension", False
            )
            for node in found:
                node.parent = item
        out.extend(node for node in found if node.data.__class__ is dict and node.data.get("url") == wanted)
    return out


@function("hasValue")
def _has_value(env: Env, items: list) -> list:
    if len(items) != 1:
        return [False]
    item = items[0]
    if item.__class__ is Node:
        return [item.data is not None and item.data.__class__ is not dict]
    return [True]


@function("getValue")
def _get_value(env: Env, items: list) -> list:
    if len(items) != 1:
        return []
    item = items[0]
    if item.__class__ is Node:
        if item.data is None or item.data.__class__ is dict:
            return []
        return [node_value(item)]
    return [item]


def _reference_text(item: Any) -> str | None:
    if item.__class__ is Node and item.data.__class__ is dict:
        ref = item.data.get("reference")
        return ref if isinstance(ref, str) else None
    value = to_system(item)
    return value if isinstance(value, str) else None


def _contained(env: Env, ident: str) -> Node | None:
    for holder in (env.resource, env.root_resource):
        for resource in holder:
            if resource.__class__ is not Node or resource.data.__class__ is not dict:
                continue
            for i, entry in enumerate(resource.data.get("contained") or ()):
                if isinstance(entry, dict) and entry.get("id") == ident:
                    return resource_node(entry, resource, "contained", i)
    return None


def _bundle_entry(env: Env, ref: str) -> Node | None:
    for bundle in env.root_resource:
        if bundle.__class__ is not Node or bundle.type != "Bundle":
            continue
        for i, entry in enumerate(bundle.data.get("entry") or ()):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            full_url = entry.get("fullUrl") or ""
            local = f"{resource.get('resourceType')}/{resource.get('id')}"
            if ref in (full_url, local) or full_url.endswith("/" + ref):
                entry_node = Node(entry, "Bundle.entry", None, bundle, "entry", i)
                return resource_node(resource, entry_node, "resource")
    return None


@function("resolve")
def _resolve(env: Env, items: list) -> list:
    out: list = []
    for item in items:
        ref = _reference_text(item)
        if not ref:
            continue
        if ref.startswith("#"):
            found = _contained(env, ref[1:])
        else:
            found = _bundle_entry(env, ref)
            if found is None and env.resolver is not None:
                target = env.resolver(ref)
                if isinstance(target, Node):
                    found = target
                elif isinstance(target, dict):
                    found = resource_node(target)
        if found is not None:
            out.append(found)
    return out


@function("memberOf", 1)
def _member_of(env: Env, items: list, valueset: list) -> list:
    raise FhirPathNotSupported("memberOf() needs a terminology service, which is not available")


class _XhtmlCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ok = True
        self.root: tuple[str, dict[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.root is None:
            self.root = (tag, dict(attrs))
        if tag not in _ALLOWED_ELEMENTS:
            self.ok = False
        for name, value in attrs:
            if name.startswith("on") or (name in _URL_ATTRIBUTES and re.match(r"\s*javascript:", value or "", re.I)):
                self.ok = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


@function("htmlChecks")
def _html_checks(env: Env, items: list) -> list:
    value = to_system(single(items, "htmlChecks()"))
    if value is None:
        return []
    if not isinstance(value, str):
        raise FhirPathEvaluationError("htmlChecks() applies to narrative XHTML")
    checker = _XhtmlCheck()
    checker.feed(value)
    checker.close()
    root = checker.root
    valid_root = root is not None and root[0] == "div" and root[1].get("xmlns") == "http://www.w3.org/1999/xhtml"
    return [checker.ok and valid_root]


@function("now")
def _now(env: Env, items: list) -> list:
    return [env.now_value("DateTime")]


@function("today")
def _today(env: Env, items: list) -> list:
    return [env.now_value("Date")]


@function("timeOfDay")
def _time_of_day(env: Env, items: list) -> list:
    return [env.now_value("Time")]
