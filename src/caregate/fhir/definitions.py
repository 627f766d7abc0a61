"""Access to the generated FHIR R4 definitions in `caregate/fhir/data/` (see PROVENANCE.md there).

The files are produced from the official 4.0.1 definition bundles by `tools/gendefs.py` and shipped inside
the package, so the server never reads the specification files at run time. Each file is read once, on
first use, through `importlib.resources` (so it also works from a zip or wheel).

- resource types: https://hl7.org/fhir/R4/resourcelist.html (concrete, non-abstract StructureDefinitions)
- element model: https://hl7.org/fhir/R4/elementdefinition.html (path and type of every element; choice
  elements `value[x]` keep their `[x]` and list their allowed types, formats.html#choice)
- Patient compartment: https://hl7.org/fhir/R4/compartmentdefinition-patient.html
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import orjson

__all__ = [
    "RESOURCE_TYPES",
    "choice_elements",
    "element_types",
    "is_domain_resource",
    "is_resource_type",
    "load_json",
    "patient_compartment",
    "resource_types",
    "search_parameter_data",
]

_PACKAGE = "caregate.fhir"

RESOURCE_TYPES: frozenset[str]
"""The concrete resource type names; read on first access (module `__getattr__` below)."""


@cache
def load_json(name: str) -> Any:
    """Parse one generated data file (cached: each file is read at most once per process)."""
    return orjson.loads(resources.files(_PACKAGE).joinpath("data", name).read_bytes())


@cache
def _resource_bases() -> Mapping[str, str]:
    data: dict[str, str] = load_json("resource-types.json")
    return MappingProxyType(dict(data))


@cache
def resource_types() -> frozenset[str]:
    """Names of the concrete resource types of FHIR R4 (`Patient`, `Observation`, ...)."""
    return frozenset(_resource_bases())


def is_resource_type(name: str) -> bool:
    """True for a concrete R4 resource type name (case-sensitive, as in `resourceType`)."""
    return name in _resource_bases()


def is_domain_resource(name: str) -> bool:
    """True when the type specializes DomainResource (all but Binary, Bundle and Parameters).

    Parameters with base `DomainResource` (such as `_text`) apply only to these (resource.html).
    """
    return _resource_bases().get(name) == "DomainResource"


@cache
def patient_compartment() -> dict[str, tuple[str, ...]]:
    """Resource type -> search parameter codes linking it to a Patient (compartmentdefinition-patient).

    Types that are never in the compartment are absent. The dict is shared: treat it as read-only.
    """
    data: dict[str, list[str]] = load_json("compartment-patient.json")
    return {rtype: tuple(params) for rtype, params in data.items()}


@cache
def _elements() -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    data: dict[str, dict[str, list[str]]] = load_json("elements.json")
    return MappingProxyType(
        {
            owner: MappingProxyType({name: tuple(types) for name, types in kids.items()})
            for owner, kids in data.items()
        }
    )


def element_types(type_name: str) -> Mapping[str, tuple[str, ...]] | None:
    """The child elements of a type: element name -> type codes, or None for an unknown or primitive type.

    `type_name` is a resource or complex datatype name, or the path of a backbone element
    (`Observation.component`), which is also how backbone-typed elements name their type. Choice elements
    are keyed with their `[x]` (`value[x]`). `id`, `extension` and `modifierExtension` are left out: every
    element has them with the same types.
    """
    return _elements().get(type_name)


def choice_elements(type_name: str) -> dict[str, tuple[str, ...]]:
    """Choice elements of a resource (or datatype) and its backbone elements: `Observation.value` -> types.

    Used to compile `as`/`ofType` on `value[x]`, which JSON stores as `valueQuantity` etc. (json.html#choice).
    """
    found: dict[str, tuple[str, ...]] = {}
    for owner, kids in _elements().items():
        if owner == type_name or owner.startswith(type_name + "."):
            for name, types in kids.items():
                if name.endswith("[x]"):
                    found[f"{owner}.{name[:-3]}"] = types
    return found


def search_parameter_data() -> list[dict[str, Any]]:
    """The compact SearchParameter records (see tools/gendefs.py for their fields)."""
    data: list[dict[str, Any]] = load_json("search-parameters.json")
    return data


def __getattr__(name: str) -> Any:
    # RESOURCE_TYPES is computed on first access (PEP 562) so importing this module reads no file.
    if name == "RESOURCE_TYPES":
        return resource_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def summary_elements(type_name: str) -> frozenset[str]:
    """Top-level elements marked isSummary in the R4 definition of a resource type."""
    return frozenset(load_json("summary-elements.json").get(type_name, ()))
