"""ValueSet expansion from `compose` (https://hl7.org/fhir/R4/valueset.html#expansion).

Includes are unions, excludes are subtracted, an include's `valueSet`s intersect with each other and with
its system part. Concept filters `is-a`, `descendent-of`, `is-not-a`, `=` and `in` work on the hierarchy of
any shipped code system. A ValueSet that needs content caregate does not ship (SNOMED CT, LOINC, dm+d, a
property filter, an unknown code system) raises `NotExpandable` saying which.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from caregate.fhir.terminology.content import code_system, generation, value_set

__all__ = ["Concept", "NotExpandable", "UnknownValueSet", "expand", "expand_url"]

Concept = tuple[str, str, str]  # system, code, display
SNOMED = "http://snomed.info/sct"
LICENSED = {SNOMED: "SNOMED CT", "https://dmd.nhs.uk": "dm+d"}  # content users load themselves, never shipped


class NotExpandable(Exception):
    """The ValueSet is known but its expansion needs terminology content caregate does not have."""


class UnknownValueSet(Exception):
    """A ValueSet url neither shipped nor resolvable."""


def _no_content(system: str) -> NotExpandable:
    if system in LICENSED:
        return NotExpandable(f"it needs {LICENSED[system]} content, which is licensed and not loaded on this server")
    cs = code_system(system)
    if cs is None:
        return NotExpandable(f"the code system {system} is not known to this server")
    return NotExpandable(f"the code system {system} is published without its concepts (content '{cs.content}') "
                         "and is not loaded on this server")


def _filtered(system: str, filters: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(code, display) of the concepts of `system` meeting every filter, in definition order."""
    cs = code_system(system)
    if cs is None or not cs.complete:
        raise _no_content(system)
    if hasattr(cs, "select"):  # loaded content (SNOMED CT) answers the filters itself, in its database
        return cs.select(filters)  # type: ignore[no-any-return]
    codes = list(cs.display)
    for f in filters:
        op, prop, value = f.get("op"), f.get("property"), str(f.get("value", ""))
        if prop != "concept":
            raise NotExpandable(f"the filter '{prop} {op} {value}' on {system} is not supported")
        if op == "is-a":
            keep = {value, *cs.descendants(value)} if value in cs.display else set()
        elif op == "descendent-of":
            keep = set(cs.descendants(value))
        elif op == "is-not-a":
            keep = set(cs.display) - {value, *cs.descendants(value)}
        elif op == "=":
            keep = {value}
        elif op == "in":
            keep = set(value.split(","))
        else:
            raise NotExpandable(f"the filter operator '{op}' on {system} is not supported")
        codes = [c for c in codes if c in keep]
    return [(c, cs.display[c]) for c in codes]


def _include(inc: dict[str, Any], stack: tuple[str, ...]) -> list[Concept]:
    out: list[Concept] | None = None
    system = inc.get("system")
    if system:
        cs = code_system(system)
        if inc.get("concept"):
            out = []
            for c in inc["concept"]:
                display = c.get("display") or (cs.display.get(c["code"], "") if cs else "")
                out.append((system, c["code"], display))
        elif inc.get("filter"):
            out = [(system, code, display) for code, display in _filtered(system, inc["filter"])]
        elif cs is not None and cs.complete:
            out = [(system, code, display) for code, display in cs.display.items()]
        else:
            raise _no_content(system)
    for url in inc.get("valueSet", ()):
        try:
            other = expand_url(url, stack)
        except UnknownValueSet:
            raise NotExpandable(f"it includes the ValueSet {url}, which is not known to this server") from None
        if out is None:
            out = other
        else:
            keys = {(s, c) for s, c, _ in other}
            out = [x for x in out if (x[0], x[1]) in keys]
    return out or []


def expand(vs: dict[str, Any], stack: tuple[str, ...] = ()) -> list[Concept]:
    """Every concept of a ValueSet resource, in compose order, without duplicates."""
    compose = vs.get("compose")
    if not isinstance(compose, dict):
        if isinstance(vs.get("expansion"), dict):
            return [(c.get("system", ""), c["code"], c.get("display", ""))
                    for c in vs["expansion"].get("contains", ()) if "code" in c]
        raise NotExpandable("it has no compose")
    seen: dict[tuple[str, str], Concept] = {}
    for inc in compose.get("include", ()):
        for concept in _include(inc, stack):
            seen.setdefault((concept[0], concept[1]), concept)
    for exc in compose.get("exclude", ()):
        for s, c, _ in _include(exc, stack):
            seen.pop((s, c), None)
    return list(seen.values())


def expand_url(url: str, stack: tuple[str, ...] = ()) -> list[Concept]:
    """The expansion of a shipped ValueSet by canonical url (`|version` ignored)."""
    return list(_expand_url(url.split("|", 1)[0], stack, generation()))


@cache
def _expand_url(url: str, stack: tuple[str, ...], generation: int) -> tuple[Concept, ...]:
    """Each expansion is worked out once per generation of the content (content.generation)."""
    if url in stack:
        raise NotExpandable(f"the ValueSet {url} includes itself")
    vs = value_set(url)
    if vs is None:
        raise UnknownValueSet(url)
    return tuple(expand(vs, (*stack, url)))
