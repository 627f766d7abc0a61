"""Type functions and operators: `is`, `as`, `ofType()`, `type()` and FHIR's `conformsTo()`.

N1 §6.3 ("Types") and §10 ("Reflection"), read with the FHIR type model of
https://hl7.org/fhir/R4/fhirpath.html#types: `is` accepts subtypes (a `code` is a `string`, an `Age` is a
`Quantity`), while `as` and `ofType` select FHIR primitives by their exact type, which is what the
official R4 suite expects (`Patient.gender.as(string)` is empty, `.as(code)` is not). `as` on more than
one item is an error unless the expression was compiled with `lenient_as` (older invariants such as
dom-3 apply `descendants().as(canonical)` to whole collections).
"""

from __future__ import annotations

from caregate.fhir.fhirpath.errors import FhirPathEvaluationError, FhirPathSemanticError
from caregate.fhir.fhirpath.model import is_known_fhir_type
from caregate.fhir.fhirpath.runtime import Env, function
from caregate.fhir.fhirpath.values import TypeSpec, matches_type, single, to_system, type_of

__all__ = ["type_as", "type_is"]

_SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


def _unknown(written: str) -> FhirPathEvaluationError:
    return FhirPathEvaluationError(f"unknown type {written!r}")


@function("is", 1, kind="type")
def type_is(env: Env, items: list, spec: TypeSpec | None, written: str) -> list:
    """`x is T` / `x.is(T)`: empty for empty input, an error for several items."""
    if not items:
        return []
    item = single(items, "is")
    if spec is None:
        if env.strict:
            raise _unknown(written)
        return [False]
    return [matches_type(item, spec)]


@function("as", 1, kind="type")
def type_as(env: Env, items: list, spec: TypeSpec | None, written: str) -> list:
    """`x as T` / `x.as(T)`: the item when it has type T, else empty."""
    if not items:
        return []
    if spec is None:
        raise _unknown(written)
    if len(items) > 1:
        if env.lenient_as:
            return [item for item in items if matches_type(item, spec, exact_primitives=True)]
        raise FhirPathEvaluationError(f"as {written} expects a single item, got {len(items)}")
    return items if matches_type(items[0], spec, exact_primitives=True) else []


@function("ofType", 1, kind="type", keeps_type=True)
def of_type(env: Env, items: list, spec: TypeSpec | None, written: str) -> list:
    """The items of type T (N1 §5.2.4)."""
    if spec is None:
        raise _unknown(written)
    return [item for item in items if matches_type(item, spec, exact_primitives=True)]


@function("type")
def type_function(env: Env, items: list) -> list:
    """The TypeInfo of each item (N1 §10.2): namespace and name."""
    return [type_of(item) for item in items]


@function("conformsTo", 1)
def conforms_to(env: Env, items: list, url: list) -> list:
    """Whether the item conforms to a profile (fhirpath.html#functions). Only the base definitions of R4
    types are known here; any other profile is an error rather than a guess."""
    if not items:
        return []
    item = single(items, "conformsTo()")
    target = to_system(single(url, "conformsTo()"))
    if not isinstance(target, str) or not target.startswith(_SD_PREFIX):
        raise FhirPathSemanticError(f"conformsTo(): cannot check profile {target!r} without its definition")
    name = target[len(_SD_PREFIX) :]
    if not is_known_fhir_type(name):
        raise FhirPathSemanticError(f"conformsTo(): unknown profile {target!r}")
    return [matches_type(item, TypeSpec("FHIR", name))]
