"""Rules the specification states in prose rather than as FHIRPath, checked on particular types.

- Attachment: `size` is the number of bytes of `data` once base64-decoded (datatypes.html#Attachment).
- Extension: `url` is absolute, except for the parts of a complex extension, which are named by a
  relative url (extensibility.html#Extension).
- Narrative: no active content (txt-1: no scripts, forms, embedded objects or event-handler attributes) and
  some non-whitespace content or an image (txt-2, narrative.html#Narrative). Both invariants are written
  `htmlChecks()` in the definitions; checking them here with one scan of the tags is much cheaper.
- Coding: `system` is an absolute URI naming a code system, not a ValueSet (terminologies.html#system).
- Bundle: search results have ids and `outcome` entries are OperationOutcomes (bundle.html#searchset);
  `fullUrl` is absolute and agrees with the resource's id (bundle.html#bundle-unique); each link relation
  appears once (bundle.html#Bundle.link); a relative reference that matches an entry's fullUrl points to a resource of
  the type it names (bundle.html#references); in a document, every reference of the Composition resolves to
  an entry (documents.html#content).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Callable

__all__ = ["attachment", "bundle", "coding", "extension_url", "narrative_div"]

Report = Callable[[str, str, str, str], None]

_TAG = re.compile(r"<[^>]*>")
_OPEN_TAG = re.compile(r"<([A-Za-z][A-Za-z0-9:\-]*)((?:\s[^>]*)?)/?>")
_ATTRIBUTE = re.compile(r"([^\s=/>]+)\s*(?:=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
_FORBIDDEN = frozenset({"script", "style", "object", "embed", "applet", "iframe", "frame", "frameset", "form",
                        "input", "button", "select", "option", "textarea", "base", "link", "meta", "head", "body",
                        "html", "title", "noscript", "param"})
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_RESTFUL = re.compile(r"https?://\S+/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?")


def attachment(value: dict, loc: str, report: Report) -> None:
    data, size = value.get("data"), value.get("size")
    if not isinstance(data, str) or size.__class__ is not int:
        return
    try:
        actual = len(base64.b64decode("".join(data.split()), validate=True))
    except (binascii.Error, ValueError):
        return  # the base64Binary check reports it
    if actual != size:
        report("error", "value", f"Attachment.size is {size} but the data holds {actual} bytes.", loc + ".size")


def extension_url(value: dict, loc: str, nested: bool, report: Report) -> None:
    url = value.get("url")
    if isinstance(url, str) and not nested and not _ABSOLUTE.fullmatch(url):
        report("error", "value", f"Extension.url must be an absolute URL, not '{url}'.", loc + ".url")


def coding(value: dict, loc: str, report: Report) -> None:
    system = value.get("system")
    if not isinstance(system, str):
        return
    if not _ABSOLUTE.fullmatch(system):
        report("error", "value", f"Coding.system must be an absolute URI, not '{system}'.", loc + ".system")
    elif system.startswith("http://hl7.org/fhir/ValueSet/"):
        report("error", "value", f"Coding.system names a ValueSet ({system}), not a code system.", loc + ".system")


def narrative_div(div: str, loc: str, report: Report) -> None:
    """txt-1 (no active content: only formatting elements, no event handlers or scripts) and txt-2."""
    for match in _OPEN_TAG.finditer(div):
        name, attributes = match.group(1).lower(), match.group(2)
        bad = name if name in _FORBIDDEN else None
        if bad is None and attributes:
            for attr, value in _ATTRIBUTE.findall(attributes):
                if attr.lower().startswith("on") or value.strip("'\" ").lower().startswith("javascript:"):
                    bad = f"{name} {attr}"
                    break
        if bad is not None:
            report("error", "invariant", f"Constraint txt-1 failed: The narrative SHALL contain only the basic html "
                   f"formatting elements and attributes (found <{bad}>).", loc)
            break
    if "<img" in div:
        return
    if not html.unescape(_TAG.sub("", div)).strip():
        report("error", "invariant", "Constraint txt-2 failed: The narrative SHALL have some non-whitespace content",
               loc)


def bundle(value: dict, loc: str, report: Report) -> None:
    links = value.get("link")
    if isinstance(links, list):
        seen: set[str] = set()
        for i, link in enumerate(links):
            relation = link.get("relation") if isinstance(link, dict) else None
            if isinstance(relation, str):
                if relation in seen:
                    report("error", "structure", f"The link relation '{relation}' may appear only once.",
                           f"{loc}.link[{i}]")
                seen.add(relation)
    entries = value.get("entry")
    if not isinstance(entries, list):
        return
    by_url: dict[str, str] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        if value.get("type") == "searchset":
            _search_entry(entry, f"{loc}.entry[{i}]", report)
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str):
            if not _ABSOLUTE.fullmatch(full_url):
                report("error", "value", f"Bundle.entry.fullUrl must be an absolute URL, not '{full_url}'.",
                       f"{loc}.entry[{i}].fullUrl")
            resource = entry.get("resource")
            if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
                by_url[full_url] = resource["resourceType"]
                _full_url_matches(full_url, resource, f"{loc}.entry[{i}]", report)
    if value.get("type") == "document" and entries and isinstance(entries[0], dict):
        versions: dict[str, list[object]] = {}
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str) and isinstance(
                    entry.get("resource"), dict):
                meta = entry["resource"].get("meta")
                versions.setdefault(entry["fullUrl"], []).append(meta.get("versionId") if isinstance(meta, dict)
                                                                  else None)
        _document_references(entries[0], versions, f"{loc}.entry[0].resource", report)
    if by_url:
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                _references(entry["resource"], entry.get("fullUrl"), by_url, f"{loc}.entry[{i}].resource", report)


def _search_entry(entry: dict, loc: str, report: Report) -> None:
    """Search results are resources with ids; an `outcome` entry is an OperationOutcome (bundle.html#searchset,
    search.html#errors)."""
    search, resource = entry.get("search"), entry.get("resource")
    mode = search.get("mode") if isinstance(search, dict) else None
    if not isinstance(resource, dict):
        return
    if mode in ("match", "include") and "id" not in resource:
        report("error", "required", "A search result (search.mode " + mode + ") must have an id.", loc + ".resource")
    elif mode == "outcome" and resource.get("resourceType") != "OperationOutcome":
        report("error", "structure", f"An entry with search.mode outcome must be an OperationOutcome, not a "
               f"{resource.get('resourceType')}.", loc + ".resource")


def _full_url_matches(full_url: str, resource: dict, loc: str, report: Report) -> None:
    """A RESTful fullUrl (`http://server/fhir/Patient/1`) names the resource's own type and id (bdl-... and
    bundle.html#bundle-unique: "fullUrl SHALL NOT disagree with the id in the resource")."""
    match = _RESTFUL.fullmatch(full_url)
    if match is None:
        return
    rtype, id_ = match.group(1), match.group(2)
    if resource.get("id") is None:
        report("error", "value", f"The fullUrl {full_url} is a RESTful URL but the resource has no id.", loc)
    elif resource.get("id") != id_ or resource.get("resourceType") != rtype:  # several R4 examples do this
        report("warning", "value", f"The fullUrl {full_url} does not match the resource "
               f"({resource.get('resourceType')}/{resource.get('id')}).", loc)


def _document_references(first: dict, versions: dict[str, list[object]], loc: str, report: Report) -> None:
    """A document holds what its Composition refers to (documents.html#content): each literal reference of
    the Composition resolves, by the rules of bundle.html#references, to exactly one entry of the Bundle (a
    versioned reference to the entry with that meta.versionId)."""
    composition = first.get("resource")
    if not isinstance(composition, dict) or composition.get("resourceType") != "Composition":
        return
    base = _base(first.get("fullUrl"))
    stack: list[tuple[object, str]] = [(composition, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str) and not ref.startswith("#"):
                match = _RELATIVE.fullmatch(ref)
                target = (base or "") + ref.split("/_history/", 1)[0] if match else ref
                found = versions.get(target, [])
                if match and match.group(3):
                    found = [v for v in found if v == match.group(3)[len("/_history/"):]]
                if not found:
                    report("error", "not-found", f"The document's Composition refers to {ref}, which is not an entry "
                           "of the Bundle.", where)
                elif len(found) > 1:
                    report("error", "not-found", f"The document's Composition refers to {ref}, which matches "
                           f"{len(found)} entries of the Bundle.", where)
            for k, v in item.items():
                if k not in ("contained", "resourceType"):
                    stack.append((v, f"{where}.{k}"))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


def _base(full_url: object) -> str | None:
    """The server base of an entry's RESTful fullUrl (`http://x/fhir/Patient/1` -> `http://x/fhir/`)."""
    if not isinstance(full_url, str):
        return None
    match = re.match(r"(.*/)[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$", full_url)
    return match.group(1) if match else None


def _references(node: object, full_url: object, by_url: dict[str, str], loc: str, report: Report) -> None:
    base = _base(full_url)
    stack: list[tuple[object, str]] = [(node, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                match = _RELATIVE.fullmatch(ref)
                found = None
                if match is not None:
                    found = by_url.get((base or "") + ref)
                    if found is None and base is None:
                        found = next((t for u, t in by_url.items() if u.endswith("/" + ref)), None)
                if match is not None and found is not None and found != match.group(1):
                    report("error", "structure", f"The reference {ref} resolves in the Bundle to a {found}, not a "
                           f"{match.group(1)}.", where)
            for k, v in item.items():
                if k not in ("contained", "resourceType"):
                    stack.append((v, f"{where}.{k}"))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
