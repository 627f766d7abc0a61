"""Terminology bindings of code, Coding and CodeableConcept elements (https://hl7.org/fhir/R4/terminologies.html).

A `required` binding's code must be in the expanded ValueSet (an error otherwise); a code outside an
`extensible` or `preferred` binding is a warning; `example` bindings are not checked. Expansions come from the
terminology library (the shipped R4 and UK Core content, a loaded SNOMED CT release, conformance resources
stored on the server) and are kept per ValueSet as frozensets until that content changes.

Grammar-based code systems are checked by their grammar where a ValueSet includes them whole (a ValueSet
that lists some of their codes admits just those): MIME types (urn:ietf:bcp:13, RFC 6838), language tags
(urn:ietf:bcp:47, RFC 5646) and UCUM units (http://unitsofmeasure.org, the UCUM grammar; terminology/ucum.py).
A ValueSet that cannot be resolved, or not expanded here (SNOMED CT not loaded, LOINC, an R5-only definition),
gives a warning saying so instead of a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from caregate.fhir.terminology.content import generation, value_set
from caregate.fhir.terminology.expand import NotExpandable, UnknownValueSet, expand
from caregate.fhir.terminology.ucum import ucum_problem

__all__ = ["Expansion", "check_binding", "expansion"]

Report = Callable[[str, str, str, str], None]  # severity, code, message, location

_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;.*)?")
_LANGUAGE = re.compile(
    r"([A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?"
    r"(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-x(-[A-Za-z0-9]{1,8})+)?"
    r"|x(-[A-Za-z0-9]{1,8})+"
)
UCUM = "http://unitsofmeasure.org"
GRAMMARS: dict[str, Callable[[str], bool]] = {
    "urn:ietf:bcp:13": lambda code: _MIME.fullmatch(code) is not None,
    "urn:ietf:bcp:47": lambda code: _LANGUAGE.fullmatch(code) is not None,
    UCUM: lambda code: ucum_problem(code) is None,
}
_MIME_VS = "http://hl7.org/fhir/ValueSet/mimetypes"
_FORMAT_SHORTHANDS = frozenset({"xml", "json", "ttl"})  # beside MIME types where R4 allows them (http.html#mime)


@dataclass(frozen=True, slots=True)
class Expansion:
    """What a ValueSet admits: enumerated codes per system, and grammar-based systems it includes whole."""

    codes: dict[str, frozenset[str]]
    every_code: frozenset[str]
    grammars: frozenset[str]

    def admits(self, system: str | None, code: str) -> bool:
        if system is None:
            return code in self.every_code or any(GRAMMARS[g](code) for g in self.grammars)
        codes = self.codes.get(system)
        if codes is not None and code in codes:
            return True
        return system in self.grammars and GRAMMARS[system](code)


def expansion(url: str) -> Expansion | str:
    """The ValueSet's expansion, or why there is none (worked out once per generation of the content)."""
    return _expansion(url.split("|", 1)[0], generation())


@cache
def _expansion(url: str, _generation: int) -> Expansion | str:
    vs = value_set(url)
    if vs is None:
        return "it is not known to this server"
    compose = vs.get("compose")
    grammars: set[str] = set()
    if isinstance(compose, dict):  # grammar systems included whole are checked by grammar, not enumerated
        includes = []
        for inc in compose.get("include") or ():
            system = inc.get("system") if isinstance(inc, dict) else None
            if system in GRAMMARS and not inc.get("concept") and not inc.get("filter") and not inc.get("valueSet"):
                grammars.add(system)
            else:
                includes.append(inc)
        vs = {**vs, "compose": {**compose, "include": includes}}
    enumerated = not isinstance(compose, dict) or bool(vs["compose"]["include"])  # else: grammars alone
    try:
        concepts = expand(vs, (url,)) if enumerated else []
    except NotExpandable as exc:
        return str(exc)
    except UnknownValueSet as exc:
        return f"it includes the ValueSet {exc}, which is not known to this server"
    codes: dict[str, set[str]] = {}
    for system, code, _ in concepts:
        codes.setdefault(system, set()).add(code)
    if url == _MIME_VS:
        codes.setdefault("urn:ietf:bcp:13", set()).update(_FORMAT_SHORTHANDS)
    frozen = {s: frozenset(c) for s, c in codes.items()}
    return Expansion(frozen, frozenset().union(*frozen.values()), frozenset(grammars))


def _system(value: dict) -> str | None:
    system = value.get("system")
    return system if isinstance(system, str) else None  # a malformed system is reported by the walk


def _codings(type_code: str, value: object) -> list[tuple[str | None, str, str]]:
    """(system, code, relative location) of every coded value in an element's value."""
    if type_code == "code":
        return [(None, value, "")] if isinstance(value, str) else []
    if not isinstance(value, dict):
        return []
    if type_code == "Coding":
        code = value.get("code")
        return [(_system(value), code, "")] if isinstance(code, str) else []
    out = []
    codings = value.get("coding")
    for i, coding in enumerate(codings if isinstance(codings, list) else ()):
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            out.append((_system(coding), coding["code"], f".coding[{i}]"))
    return out


def check_binding(binding: tuple[str, str], type_code: str, value: object, loc: str, report: Report) -> None:
    strength, url = binding
    if type_code not in ("code", "Coding", "CodeableConcept") or strength == "example":
        return
    found = _codings(type_code, value)
    if not found:
        return
    exp = expansion(url)
    if isinstance(exp, str):
        report("warning", "not-supported", f"The ValueSet {url} ({strength} binding) cannot be checked here: "
               f"{exp}; the code was not checked.", loc)
        return
    hits = [exp.admits(system, code) for system, code, _ in found]
    severity = "error" if strength == "required" else "warning"
    if type_code == "CodeableConcept":
        if any(hits):
            return
        shown = ", ".join(f"{s}#{c}" if s else c for s, c, _ in found)
        report(severity, "code-invalid", f"None of the codes ({shown}) is in the ValueSet {url}, which has a "
               f"{strength} binding here.", loc)
        return
    for (system, code, rel), ok in zip(found, hits, strict=True):
        if ok:
            continue
        where = f" from {system}" if system else ""
        report(severity, "code-invalid", f"The code '{code}'{where} is not in the ValueSet {url}, which has a "
               f"{strength} binding here.", loc + rel)
