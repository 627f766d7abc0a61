"""Value semantics shared by operators and functions: System values, equality, equivalence, ordering,
Boolean evaluation of collections and types (http://hl7.org/fhirpath/N1/#operations, #types).

FHIR elements are compared through their System values (a FHIR `code` equals the String `'male'`; a FHIR
Quantity converts to System.Quantity, https://hl7.org/fhir/R4/fhirpath.html#types). Equality (`=`) may be
*undetermined* (None here, the empty collection in FHIRPath) for dates of different precision and for
incommensurable quantities; equivalence (`~`) never is. Complex values are equal when their JSON is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

import orjson

from caregate.fhir.fhirpath.errors import FhirPathEvaluationError
from caregate.fhir.fhirpath.model import (
    PRIMITIVE_TYPES,
    Node,
    TypeInfo,
    fhir_subtype_of,
    is_known_fhir_type,
    is_quantity_type,
    node_quantity,
    node_value,
)
from caregate.fhir.fhirpath.quantity import (
    Quantity,
    canonical_quantity,
    compare_quantities,
    decimal_text,
    equivalent_decimals,
    equivalent_quantities,
)
from caregate.fhir.fhirpath.temporal import Date, DateTime, Temporal, Time
from caregate.fhir.fhirpath.temporal import compare as compare_temporal

__all__ = [
    "SYSTEM_TYPES",
    "TypeSpec",
    "compare",
    "distinct",
    "equal",
    "equivalent",
    "hash_key",
    "matches_type",
    "resolve_type",
    "single",
    "text_of",
    "to_boolean",
    "to_system",
    "type_of",
]

SYSTEM_TYPES: dict[type, str] = {
    bool: "Boolean", int: "Integer", Decimal: "Decimal", str: "String", Date: "Date", DateTime: "DateTime",
    Time: "Time", Quantity: "Quantity",
}
_SYSTEM_NAMES = frozenset(SYSTEM_TYPES.values())
_NUMBERS = (int, Decimal)


def to_system(item: Any) -> Any:
    """The System value of an item: primitives unwrap, FHIR Quantities convert, other nodes stay nodes."""
    if item.__class__ is Node:
        if item.data.__class__ is dict:
            if is_quantity_type(item.type):
                q = node_quantity(item)
                return item if q is None else q
            return item
        return node_value(item)
    return item


def single(collection: list, what: str) -> Any:
    """The only item of a collection, None when empty; more than one is an error (N1 §4.5)."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathEvaluationError(f"{what} expects a single item, got {len(collection)}")
    return collection[0]


def to_boolean(collection: list, what: str, strict: bool = False) -> bool | None:
    """Singleton evaluation as a Boolean (N1 §4.5): empty -> None, a Boolean -> itself, another single
    item -> True (an error in strict mode), several items -> error."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathEvaluationError(f"{what} expects a single Boolean, got {len(collection)} items")
    value = collection[0]
    if value is True or value is False:
        return value
    if value.__class__ is Node and value.type == "boolean":
        return node_value(value)
    if strict:
        raise FhirPathEvaluationError(f"{what} expects a Boolean, got {type_of(value)}")
    return True


def _temporal_kinds_match(a: Temporal, b: Temporal) -> bool:
    return (a.kind == "Time") == (b.kind == "Time")


def equal(a: Any, b: Any) -> bool | None:
    """`=` on two items: True, False or None (undetermined)."""
    a, b = to_system(a), to_system(b)
    ta, tb = a.__class__, b.__class__
    if ta is Node or tb is Node:
        return ta is tb and a.data == b.data
    if a is None or b is None:
        return None
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta is str or tb is str:
        return ta is tb and a == b
    if ta in _NUMBERS and tb in _NUMBERS:
        return a == b
    if ta is Quantity or tb is Quantity:
        a, b = _as_quantity(a), _as_quantity(b)
        if a is None or b is None:
            return False
        c = compare_quantities(a, b)
        return None if c is None else c == 0
    if isinstance(a, Temporal) and isinstance(b, Temporal):
        if not _temporal_kinds_match(a, b):
            return False
        c = compare_temporal(a, b)
        return None if c is None else c == 0
    if ta is TypeInfo and tb is TypeInfo:
        return a == b
    return False


def _as_quantity(value: Any) -> Quantity | None:
    if value.__class__ is Quantity:
        return value
    if value.__class__ in _NUMBERS:
        return Quantity(Decimal(value), "1")
    return None


def _normalise(text: str) -> str:
    return " ".join(text.split()).lower()


def equivalent(a: Any, b: Any) -> bool:
    """`~` on two items (N1 §6.1.3): case- and whitespace-insensitive strings, decimals at the lesser
    precision, dates equal only at the same precision, complex values member by member."""
    a, b = to_system(a), to_system(b)
    ta, tb = a.__class__, b.__class__
    if ta is Node or tb is Node:
        return ta is tb and _canonical_json(a.data, True) == _canonical_json(b.data, True)
    if a is None or b is None:
        return a is None and b is None
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta is str and tb is str:
        return _normalise(a) == _normalise(b)
    if ta in _NUMBERS and tb in _NUMBERS:
        return equivalent_decimals(Decimal(a), Decimal(b))
    if ta is Quantity or tb is Quantity:
        qa, qb = _as_quantity(a), _as_quantity(b)
        return qa is not None and qb is not None and equivalent_quantities(qa, qb)
    if isinstance(a, Temporal) and isinstance(b, Temporal):
        return _temporal_kinds_match(a, b) and compare_temporal(a, b) == 0
    return equal(a, b) is True


def compare(a: Any, b: Any) -> int | None:
    """Order two items for `<`, `<=`, `>`, `>=` (N1 §6.2): -1, 0, 1 or None (undetermined).

    Raises FhirPathEvaluationError for values that have no order between them (`1 < 'a'`).
    """
    a, b = to_system(a), to_system(b)
    ta, tb = a.__class__, b.__class__
    if ta in _NUMBERS and tb in _NUMBERS and ta is not bool and tb is not bool:
        return (a > b) - (a < b)
    if ta is str and tb is str:
        return (a > b) - (a < b)
    if isinstance(a, Temporal) and isinstance(b, Temporal) and _temporal_kinds_match(a, b):
        return compare_temporal(a, b)
    if (ta is Quantity or tb is Quantity) and ta is not bool and tb is not bool:
        qa, qb = _as_quantity(a), _as_quantity(b)
        if qa is not None and qb is not None:
            return compare_quantities(qa, qb)
    raise FhirPathEvaluationError(f"cannot compare {type_of(a)} with {type_of(b)}")


def _canonical_json(data: Any, fold: bool = False) -> bytes:
    if fold:
        data = _fold(data)
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=str)


def _fold(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _fold(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_fold(v) for v in data]
    return _normalise(data) if isinstance(data, str) else data


def hash_key(item: Any) -> Any:
    """A hashable key under which equal items collide, for distinct(), union and friends."""
    value = to_system(item)
    cls = value.__class__
    if cls is bool:
        return ("b", value)
    if cls is int or cls is Decimal:
        return ("n", value)
    if cls is str:
        return ("s", value)
    if cls is Node:
        return ("c", _canonical_json(value.data))
    if cls is Quantity:
        canonical = canonical_quantity(value)
        return ("q", value.value, value.unit) if canonical is None else ("q", canonical[0], canonical[1])
    if isinstance(value, Temporal):
        return ("t", value.kind == "Time", value.parts, value.tz)
    if cls is TypeInfo:
        return ("T", value.namespace, value.name)
    return ("?", id(value))


def distinct(items: list) -> list:
    """Items in order with later duplicates (by equality) removed."""
    seen: set = set()
    out = []
    for item in items:
        key = hash_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def type_of(item: Any) -> TypeInfo:
    """The type of an item (N1 §10.2): FHIR types for model elements, System types for literals."""
    if item.__class__ is Node:
        return TypeInfo("FHIR", item.type or "Element")
    return TypeInfo("System", SYSTEM_TYPES.get(item.__class__, item.__class__.__name__))


class TypeSpec(NamedTuple):
    """A resolved type specifier: namespace System, FHIR, or None for a name that exists in both."""

    namespace: str | None
    name: str


def resolve_type(qualified: str) -> TypeSpec | None:
    """Resolve `Quantity`, `FHIR.string`, `System.Boolean`; unqualified names look in FHIR, then System
    (N1 §10.1 "Models"). None for an unknown type."""
    namespace, _, name = qualified.rpartition(".")
    if namespace == "FHIR":
        return TypeSpec("FHIR", name) if is_known_fhir_type(name) else None
    if namespace == "System":
        return TypeSpec("System", name) if name in _SYSTEM_NAMES else None
    if namespace:
        return None
    if is_known_fhir_type(name):
        return TypeSpec(None if name in _SYSTEM_NAMES else "FHIR", name)
    return TypeSpec("System", name) if name in _SYSTEM_NAMES else None


def matches_type(item: Any, spec: TypeSpec, exact_primitives: bool = False) -> bool:
    """Whether an item is of the type (or a subtype); `exact_primitives` makes FHIR primitive types match
    only themselves, which is how the official suite reads `as` and `ofType` (`gender.as(string)` is empty)."""
    if item.__class__ is Node:
        if spec.namespace == "System" or item.type is None:
            return False
        if exact_primitives and item.type in PRIMITIVE_TYPES:
            return item.type == spec.name
        return fhir_subtype_of(item.type, spec.name)
    if spec.namespace == "FHIR":
        return False
    return SYSTEM_TYPES.get(item.__class__) == spec.name


def text_of(value: Any) -> str:
    """The String form of a System value (`toString()`, N1 §5.5.8)."""
    value = to_system(value)
    if value is True or value is False:
        return "true" if value else "false"
    if value.__class__ is Decimal:
        return decimal_text(value)
    return str(value)
