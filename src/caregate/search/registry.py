"""The search parameters each resource type supports, from the R4 SearchParameter definitions.

A SearchParameter names the types it applies to in `base`, and many core parameters are shared across
types with one union expression (`AllergyIntolerance.code | Condition.code | ...`, the "clinical-code"
parameter; https://hl7.org/fhir/R4/searchparameter-registry.html). The registry holds one `SearchParam`
per (type, code) whose `expression` is only that type's branch, so each type indexes only its own paths.

Parameters with base `Resource` (`_id`, `_lastUpdated`, `_tag`, `_profile`, `_security`, `_source`, ...)
apply to every type and those with base `DomainResource` (`_text`) to every DomainResource
(https://hl7.org/fhir/R4/resource.html#search-parameters, search.html#all). The lookup type `Resource`
gives just the common parameters, for searches across all types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from caregate.fhir.definitions import is_domain_resource, is_resource_type, search_parameter_data
from caregate.search.fhirpath import split_by_type

__all__ = ["Registry", "SearchParam", "default_registry"]

_COMMON = ("Resource", "DomainResource")


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter as it applies to one resource type (SearchParameter, searchparameter.html).

    `type` is string | token | reference | date | number | quantity | uri | composite | special.
    `expression` is restricted to one resource type (None: the parameter has no expression, e.g. `_text`).
    `components` are (component parameter code, expression relative to the composite's focus).
    """

    code: str
    type: str
    url: str
    base: tuple[str, ...]
    expression: str | None
    targets: tuple[str, ...] = ()
    components: tuple[tuple[str, str], ...] = ()
    comparators: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    multiple_or: bool | None = None
    multiple_and: bool | None = None


class Registry:
    """Search parameters by resource type and code.

    Built from SearchParameter records (the generated compact form or full SearchParameter resources);
    `default_registry()` holds the 1,378 parameters of the R4 specification.
    """

    __slots__ = ("__weakref__", "_by_base", "_cache")

    def __init__(self, entries: Iterable[tuple[str, SearchParam]]) -> None:
        """`entries` are (base type, parameter for that type); a later entry replaces an earlier one."""
        by_base: dict[str, dict[str, SearchParam]] = {}
        for base, param in entries:
            by_base.setdefault(base, {})[param.code] = param
        self._by_base = by_base
        self._cache: dict[str, Mapping[str, SearchParam]] = {}

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> Registry:
        """Build from SearchParameter JSON (the resource, or the compact records of tools/gendefs.py)."""
        records = list(records)
        codes_by_url = {r["url"]: r["code"] for r in records if "url" in r}
        return cls(entry for record in records for entry in _params_of(record, codes_by_url))

    def with_records(self, records: Iterable[Mapping[str, Any]]) -> Registry:
        """A new registry adding (or replacing, by type and code) custom SearchParameter resources."""
        own = [(base, p) for base, params in self._by_base.items() for p in params.values()]
        records = list(records)
        codes_by_url = {p.url: p.code for _, p in own} | {r["url"]: r["code"] for r in records if "url" in r}
        added = [entry for record in records for entry in _params_of(record, codes_by_url)]
        return Registry([*own, *added])

    def for_type(self, resource_type: str) -> Mapping[str, SearchParam]:
        """Every parameter usable on `resource_type`, by code (read-only; empty for unknown types)."""
        found = self._cache.get(resource_type)
        if found is None:
            found = MappingProxyType(self._collect(resource_type))
            self._cache[resource_type] = found
        return found

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self.for_type(resource_type).get(code)

    def _collect(self, resource_type: str) -> dict[str, SearchParam]:
        merged: dict[str, SearchParam] = {}
        if (
            resource_type == "Resource"
            or resource_type == "DomainResource"
            or is_resource_type(resource_type)
        ):
            merged.update(self._by_base.get("Resource", {}))
            if resource_type == "DomainResource" or is_domain_resource(resource_type):
                merged.update(self._by_base.get("DomainResource", {}))
        if resource_type not in _COMMON:
            merged.update(self._by_base.get(resource_type, {}))
        return merged


def _params_of(record: Mapping[str, Any], codes_by_url: Mapping[str, str]) -> list[tuple[str, SearchParam]]:
    """One SearchParam per base type, each with that type's part of the expression."""
    bases = tuple(record.get("base", ()))
    expression = record.get("expression")
    if expression and "expressions" in record:
        per_type: dict[str, str] = dict(record["expressions"])
    elif expression:
        per_type = split_by_type(expression, bases)
    else:
        per_type = {}
    components = tuple(
        (codes_by_url.get(c["definition"], c["definition"].rsplit("/", 1)[-1]), c["expression"])
        for c in record.get("component", ())
    )
    out = []
    for base in bases:
        own = per_type.get(base)
        if expression and own is None:
            continue  # the expression has no branch for this base: nothing would ever be indexed
        out.append(
            (
                base,
                SearchParam(
                    code=record["code"],
                    type=record["type"],
                    url=record["url"],
                    base=bases,
                    expression=own,
                    targets=tuple(record.get("target", ())),
                    components=components,
                    comparators=tuple(record.get("comparator", ())),
                    modifiers=tuple(record.get("modifier", ())),
                    multiple_or=record.get("multipleOr"),
                    multiple_and=record.get("multipleAnd"),
                ),
            )
        )
    return out


@cache
def default_registry() -> Registry:
    """The registry of the R4 core search parameters (built once per process)."""
    return Registry.from_records(search_parameter_data())
