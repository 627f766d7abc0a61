"""Composite search parameters (https://hl7.org/fhir/R4/search.html#composite): values that must hold
together on one element, such as a code and its value on the same Observation.component.

Each composite is indexed as one row per focus element (the parameter's expression) and per pair of its
components' values found on that element: (code, a1, a2, b1, b2, num, lo, hi), where the first component
(a token, or a reference for DocumentReference.relationship) fills a1/a2 as system/code (type/id), and the
second fills b1/b2 (token system/code, quantity system/unit, normalised string in b2), num (number and
quantity value) or lo/hi (date range). The R4 composites with three components are not indexed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caregate.search.fhirpath import FhirPathError, compile_typed
from caregate.search.registry import Registry, SearchParam

Row = tuple[str, Any, Any, Any, Any, Any, Any, Any]
# (component kind, evaluate(focus), converter(values) -> list of partial rows)
Part = tuple[str, Callable[[dict[str, Any]], list[Any]], str | None]


def supported(param: SearchParam, registry: Registry, resource_type: str) -> bool:
    return len(_component_kinds(param, registry, resource_type) or ()) == 2


def _component_kinds(param: SearchParam, registry: Registry, resource_type: str) -> list[str] | None:
    kinds = []
    for code, _expr in param.components:
        comp = registry.get(resource_type, code)
        if comp is None:
            return None
        kinds.append(comp.type)
    if len(kinds) != 2 or kinds[0] not in ("token", "reference") or kinds[1] not in (
            "token", "quantity", "number", "date", "string"):
        return None
    return kinds


def component_kinds(param: SearchParam, registry: Registry, resource_type: str) -> list[str]:
    kinds = _component_kinds(param, registry, resource_type)
    if kinds is None:
        raise ValueError(f"composite '{param.code}' of {resource_type} is not supported")
    return kinds


def plan(param: SearchParam, registry: Registry, resource_type: str) -> list[Callable[[dict[str, Any]], list[Row]]]:
    """Extractors (one per typed focus) producing the composite rows of one resource."""
    kinds = _component_kinds(param, registry, resource_type)
    if kinds is None or param.expression is None:
        return []
    try:
        focuses = compile_typed(param.expression, resource_type)
    except FhirPathError:
        return []
    out = []
    for focus in focuses:
        components = []
        for (code, expr), kind in zip(param.components, kinds, strict=True):
            try:
                parts = compile_typed(expr, focus.type)
            except FhirPathError:
                parts = ()
            components.append((kind, code, parts))
        out.append(_extractor(param.code, focus.evaluate, components))
    return out


def _extractor(code: str, focus_fn: Callable[[dict[str, Any]], list[Any]], components: list) -> Callable:
    from caregate.search.extract import IndexRows, convert_value

    def extract(resource: dict[str, Any]) -> list[Row]:
        rows: list[Row] = []
        for node in focus_fn(resource):
            if not isinstance(node, dict):
                continue
            found = []
            for kind, comp_code, parts in components:
                sub = IndexRows()
                for part in parts:
                    for value in part.evaluate(node):
                        convert_value(kind, part.type, comp_code, value, sub, resource)
                found.append(_values(kind, sub, not found))
            first, second = found
            rows += [(code, *a, *b) for a in first for b in second]
        return rows

    return extract


def _values(kind: str, rows: Any, first: bool) -> list[tuple]:
    """Component values in the composite row's columns: (a1, a2) for the first component,
    (b1, b2, num, lo, hi) for the second."""
    if kind == "token":
        pairs = [(system, code) for _, system, code, _t in rows.tokens if code is not None]
        return pairs if first else [(*p, None, None, None) for p in pairs]
    if kind == "reference":
        return [(ttype, tid) for _, ttype, tid, _v, _u in rows.references if tid is not None]
    if kind == "quantity":
        return [(system, unit, value, None, None) for c, system, unit, _d, value in rows.quantities if ":" not in c]
    if kind == "number":
        return [(None, None, (lo + hi) / 2, None, None) for _, lo, hi in rows.numbers]
    if kind == "date":
        return [(None, None, None, lo, hi) for _, lo, hi in rows.dates]
    return [(None, norm, None, None, None) for _, norm, _exact in rows.strings]
