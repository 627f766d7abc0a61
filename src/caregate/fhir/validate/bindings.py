"""Terminology bindings of code, Coding and CodeableConcept elements (https://hl7.org/fhir/R4/terminologies.html).

A `required` binding's code must be in the expanded ValueSet (an error otherwise); a code outside an
`extensible` or `preferred` binding is a warning. ValueSets that cannot be expanded from the release (SNOMED
CT, LOINC, external code systems) give a warning saying so instead of a verdict. Two grammar-based systems
are checked by their grammar rather than by enumeration: MIME types (urn:ietf:bcp:13, RFC 6838) and
language tags (urn:ietf:bcp:47, RFC 5646).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from caregate.fhir.validate.model import value_set

__all__ = ["check_binding"]

Report = Callable[[str, str, str, str], None]  # severity, code, message, location

_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;.*)?")
_LANGUAGE = re.compile(
    r"([A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?"
    r"(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-x(-[A-Za-z0-9]{1,8})+)?"
    r"|x(-[A-Za-z0-9]{1,8})+"
)
_GRAMMARS = {"urn:ietf:bcp:13": _MIME, "urn:ietf:bcp:47": _LANGUAGE}
_MIME_VS = "http://hl7.org/fhir/ValueSet/mimetypes"


def _in(expansion: dict[str, frozenset[str]], system: str | None, code: str) -> bool:
    if system is None:
        return any(code in codes for codes in expansion.values()) or any(
            s in _GRAMMARS and _GRAMMARS[s].fullmatch(code) for s in expansion
        )
    codes = expansion.get(system)
    if codes is not None and code in codes:
        return True
    grammar = _GRAMMARS.get(system)
    return grammar is not None and system in expansion and grammar.fullmatch(code) is not None


def _system(value: dict) -> str | None:
    system = value.get("system")
    return system if isinstance(system, str) else None  # a malformed system is reported by the walk


def _codings(type_code: str, value: object) -> list[tuple[str | None, str, str]]:
    """(system, code, relative location) of every coded value in an element's value."""
    if type_code == "code":
        return [(None, value, "")] if isinstance(value, str) else []
    if not isinstance(value, dict):
        return []
    if type_code in ("Coding",):
        code = value.get("code")
        return [(_system(value), code, "")] if isinstance(code, str) else []
    if type_code == "CodeableConcept":
        out = []
        codings = value.get("coding")
        for i, coding in enumerate(codings if isinstance(codings, list) else ()):
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                out.append((_system(coding), coding["code"], f".coding[{i}]"))
        return out
    if type_code in ("Quantity",) and isinstance(value.get("code"), str):
        return [(_system(value), value["code"], ".code")]
    return []


def check_binding(binding: tuple[str, str], type_code: str, value: object, loc: str, report: Report) -> None:
    strength, url = binding
    if type_code not in ("code", "Coding", "CodeableConcept"):
        return
    found = _codings(type_code, value)
    if not found:
        return
    if url == _MIME_VS:  # xml, json and ttl are the format shorthands R4 allows beside MIME types (http.html#mime)
        expansion: dict[str, frozenset[str]] | str | None = {"urn:ietf:bcp:13": frozenset({"xml", "json", "ttl"})}
    else:
        expansion = value_set(url)
    if expansion is None:
        return
    if isinstance(expansion, str):
        report("warning", "not-supported", f"The ValueSet {url} ({strength} binding) cannot be expanded here: "
               f"{expansion}; the code was not checked.", loc)
        return
    hits = [_in(expansion, system, code) for system, code, _ in found]
    if type_code == "CodeableConcept":
        if any(hits):
            return
        shown = ", ".join(f"{s}#{c}" if s else c for s, c, _ in found)
        severity = "error" if strength == "required" else "warning"
        report(severity, "code-invalid", f"None of the codes ({shown}) is in the ValueSet {url}, which has a "
               f"{strength} binding here.", loc)
        return
    for (system, code, rel), ok in zip(found, hits, strict=True):
        if ok:
            continue
        severity = "error" if strength == "required" else "warning"
        where = f" from {system}" if system else ""
        report(severity, "code-invalid", f"The code '{code}'{where} is not in the ValueSet {url}, which has a "
               f"{strength} binding here.", loc + rel)
