"""The index pipeline: a resource in, the rows of every search index table out.

For each resource type a plan is built once (and cached): for every search parameter, the compiled typed
parts of its expression and, per FHIR datatype, a converter that turns a value into index rows following
the R4 search specification's datatype table (https://hl7.org/fhir/R4/search.html#table):

- string   <- string, markdown, HumanName (family, given, prefix, suffix, text), Address (line, city,
              district, state, postalCode, country, text); stored normalized and exact (search.html#string)
- token    <- code, boolean, string, id, uri, Coding, CodeableConcept (each coding, and its text),
              Identifier (system|value, type text), ContactPoint (value); search.html#token
- reference<- Reference (relative, versioned, absolute and contained), canonical, uri, and an inline
              resource; search.html#reference
- date     <- date, dateTime, instant, Period (open ends to MIN_US/MAX_US), Timing (outer limits of its
              events and bounds); search.html#date
- number   <- decimal, integer with the implicit range of their precision, Range; search.html#number
- quantity <- Quantity and its profiles (Age, Duration, ...), Money, Range (low and high);
              search.html#quantity
- uri      <- uri, url, canonical, oid, uuid; search.html#uri

Composite and special parameters produce no rows here; `_id` needs none (the store keys resources by id).
Indexing runs on every write, so no expression is interpreted per resource: only the compiled closures and
converters run.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from weakref import WeakKeyDictionary

from caregate.search import ucum
from caregate.search.dates import MAX_US, MIN_US, parse_range
from caregate.search.fhirpath import FhirPathError, compile_typed, contained_resource, reference_parts
from caregate.search.registry import Registry, SearchParam, default_registry

__all__ = ["IndexRows", "index_resource", "normalize", "plan_for"]


@dataclass(slots=True)
class IndexRows:
    """Index rows of one resource, each starting with the search parameter code."""

    strings: list[tuple[str, str, str]] = field(default_factory=list)  # (code, normalized, exact)
    tokens: list[tuple[str, str | None, str | None, str | None]] = field(
        default_factory=list
    )  # system, code, text
    references: list[tuple[str, str | None, str | None, str | None, str]] = field(default_factory=list)
    """(code, target type, target id, target version, raw reference or canonical url without `|version`)"""
    dates: list[tuple[str, int, int]] = field(default_factory=list)  # inclusive microsecond range
    numbers: list[tuple[str, float, float]] = field(default_factory=list)  # implicit precision range
    quantities: list[tuple[str, str | None, str | None, str | None, float]] = field(default_factory=list)
    """(code, system, unit code, unit display, value)"""
    uris: list[tuple[str, str]] = field(default_factory=list)
    composites: list[tuple] = field(default_factory=list)
    """(code, a1, a2, b1, b2, num, lo, hi): see `caregate.search.composite`"""

    def deduplicate(self) -> None:
        """Drop repeated rows, keeping first-seen order (a value found by two paths is indexed once)."""
        for name in ("strings", "tokens", "references", "dates", "numbers", "quantities", "uris", "composites"):
            rows = getattr(self, name)
            if len(rows) > 1:
                setattr(self, name, list(dict.fromkeys(rows)))


def normalize(text: str) -> str:
    """String search form: lower case, accents removed (NFKD, combining marks dropped), spaces collapsed.

    "Searches are case-insensitive and accent-insensitive" (search.html#string); the query side applies the
    same function to the search value.
    """
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(text.lower().split())


Converter = Callable[[str, Any, IndexRows], None]
"""Turns one value found by a parameter's expression into rows (code, value, rows to append to)."""

# --------------------------------------------------------------------------------------------- string


def _string_row(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, str):
        norm = normalize(value)
        if norm:
            rows.strings.append((code, norm, value))


_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def _parts_converter(parts: tuple[str, ...]) -> Converter:
    def convert(code: str, value: Any, rows: IndexRows) -> None:
        if not isinstance(value, dict):
            return
        for part in parts:
            item = value.get(part)
            if item is None:
                continue
            if isinstance(item, list):
                for each in item:
                    _string_row(code, each, rows)
            else:
                _string_row(code, item, rows)

    return convert


_human_name = _parts_converter(_NAME_PARTS)
_address = _parts_converter(_ADDRESS_PARTS)


def _string_any(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, str):
        _string_row(code, value, rows)
    elif isinstance(value, dict):
        if "family" in value or "given" in value:
            _human_name(code, value, rows)
        elif "line" in value or "city" in value or "postalCode" in value or "country" in value:
            _address(code, value, rows)
        elif isinstance(value.get("text"), str):
            _string_row(code, value["text"], rows)


# --------------------------------------------------------------------------------------------- token


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _token_primitive(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, bool):
        rows.tokens.append((code, None, "true" if value else "false", None))
    elif isinstance(value, str) and value:
        rows.tokens.append((code, None, value, None))


def _coding(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, dict):
        system, value_code, display = (
            _text(value.get("system")),
            _text(value.get("code")),
            _text(value.get("display")),
        )
        if system or value_code or display:
            rows.tokens.append((code, system, value_code, display))


def _codeable_concept(code: str, value: Any, rows: IndexRows) -> None:
    if not isinstance(value, dict):
        return
    for coding in value.get("coding", ()):
        _coding(code, coding, rows)
    text = _text(value.get("text"))
    if text:
        rows.tokens.append((code, None, None, text))


def _identifier(code: str, value: Any, rows: IndexRows) -> None:
    if not isinstance(value, dict):
        return
    system, ident = _text(value.get("system")), _text(value.get("value"))
    if system or ident:
        kind = value.get("type")
        rows.tokens.append((code, system, ident, _text(kind.get("text")) if isinstance(kind, dict) else None))
        if isinstance(kind, dict) and ident:
            # `identifier:of-type=type-system|type-code|value` (search.html#token)
            for coding in kind.get("coding", ()):
                if isinstance(coding, dict) and _text(coding.get("code")):
                    rows.tokens.append((code + OF_TYPE, _text(coding.get("system")), f"{coding['code']}|{ident}",
                                        None))


def _contact_point(code: str, value: Any, rows: IndexRows) -> None:
    # ContactPoint.system is a kind of contact (phone, email), not a URI: only the value is a token.
    if isinstance(value, dict):
        text = _text(value.get("value"))
        if text:
            rows.tokens.append((code, None, text, None))


def _token_any(code: str, value: Any, rows: IndexRows) -> None:
    if not isinstance(value, dict):
        _token_primitive(code, value, rows)
    elif "coding" in value or ("text" in value and len(value) == 1):
        _codeable_concept(code, value, rows)
    elif "code" in value or "display" in value:
        _coding(code, value, rows)
    elif "value" in value:
        system = value.get("system")
        if system in ("phone", "fax", "email", "pager", "url", "sms", "other"):
            _contact_point(code, value, rows)
        else:
            _identifier(code, value, rows)


# --------------------------------------------------------------------------------------------- reference


def _reference_string(code: str, ref: str, rows: IndexRows, root: dict[str, Any]) -> None:
    if ref.startswith("#"):
        target = contained_resource(root, ref[1:])
        rtype = target.get("resourceType") if target is not None else None
        rows.references.append((code, rtype if isinstance(rtype, str) else None, None, None, ref))
        return
    rtype, rid, version = reference_parts(ref)
    rows.references.append((code, rtype, rid, version, ref))


def _canonical(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, str) and value:
        url, _, version = value.partition("|")
        rows.references.append((code, None, None, version or None, url))


def _uri_reference(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, str) and value:
        rows.references.append((code, None, None, None, value))


def _inline_resource(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, dict):
        rtype, rid = value.get("resourceType"), value.get("id")
        if isinstance(rtype, str) and isinstance(rid, str):
            rows.references.append((code, rtype, rid, None, f"{rtype}/{rid}"))


# Reference converters need the resource itself (for contained targets); they are bound per resource.
RootConverter = Callable[[str, Any, IndexRows, dict[str, Any]], None]


def _reference(code: str, value: Any, rows: IndexRows, root: dict[str, Any]) -> None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            _reference_string(code, ref, rows, root)
        ident = value.get("identifier")
        if isinstance(ident, dict):
            # `subject:identifier=system|value` searches Reference.identifier (search.html#reference)
            _identifier(code + IDENTIFIER, {"system": ident.get("system"), "value": ident.get("value")}, rows)


def _reference_any(code: str, value: Any, rows: IndexRows, root: dict[str, Any]) -> None:
    if isinstance(value, str):
        _canonical(code, value, rows)
    elif isinstance(value, dict):
        if "reference" in value or "identifier" in value:
            _reference(code, value, rows, root)
        elif "resourceType" in value:
            _inline_resource(code, value, rows)


# --------------------------------------------------------------------------------------------- date


def _date(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, str):
        try:
            low, high = parse_range(value)
        except ValueError:
            return  # not a date (validation is not the indexer's job): nothing to index
        rows.dates.append((code, low, high))


def _bounds(value: Any) -> tuple[int, int] | None:
    """[low, high] of a Period; a missing start or end is open (datatypes.html#Period)."""
    if not isinstance(value, dict):
        return None
    start, end = value.get("start"), value.get("end")
    if start is None and end is None:
        return None
    try:
        low = parse_range(start)[0] if isinstance(start, str) else MIN_US
        high = parse_range(end)[1] if isinstance(end, str) else MAX_US
    except ValueError:
        return None
    return low, high


def _period(code: str, value: Any, rows: IndexRows) -> None:
    bounds = _bounds(value)
    if bounds is not None:
        rows.dates.append((code, *bounds))


def _timing(code: str, value: Any, rows: IndexRows) -> None:
    """Only the outer limits of a schedule matter (search.html#date, Timing)."""
    if not isinstance(value, dict):
        return
    ranges: list[tuple[int, int]] = []
    for event in value.get("event", ()):
        if isinstance(event, str):
            try:
                ranges.append(parse_range(event))
            except ValueError:
                continue
    repeat = value.get("repeat")
    if isinstance(repeat, dict):
        bounds = _bounds(repeat.get("boundsPeriod"))
        if bounds is not None:
            ranges.append(bounds)
    if ranges:
        rows.dates.append((code, min(r[0] for r in ranges), max(r[1] for r in ranges)))


def _date_any(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, str):
        _date(code, value, rows)
    elif isinstance(value, dict):
        if "event" in value or "repeat" in value:
            _timing(code, value, rows)
        else:
            _period(code, value, rows)


# --------------------------------------------------------------------------------------------- number


def _precision_range(value: Any) -> tuple[float, float] | None:
    """Implicit range: +/- half a unit of the last digit given (search.html#number: 100 -> 99.5..100.5)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return value - 0.5, value + 0.5
    if not math.isfinite(value):
        return None
    try:
        exact = Decimal(repr(value))
    except InvalidOperation:
        return None
    exponent = exact.as_tuple().exponent
    half = Decimal(5).scaleb(int(exponent) - 1)
    return float(exact - half), float(exact + half)


def _number(code: str, value: Any, rows: IndexRows) -> None:
    bounds = _precision_range(value)
    if bounds is not None:
        rows.numbers.append((code, *bounds))


def _number_range(code: str, value: Any, rows: IndexRows) -> None:
    if not isinstance(value, dict):
        return
    low, high = _quantity_value(value.get("low")), _quantity_value(value.get("high"))
    if low is None and high is None:
        return
    rows.numbers.append((code, -math.inf if low is None else low, math.inf if high is None else high))


def _number_any(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, dict):
        _number_range(code, value, rows)
    else:
        _number(code, value, rows)


# --------------------------------------------------------------------------------------------- quantity


def _quantity_value(value: Any) -> float | None:
    if isinstance(value, dict):
        number = value.get("value")
        if isinstance(number, int | float) and not isinstance(number, bool):
            return float(number)
    return None


CANONICAL = ":canonical"
OF_TYPE = ":of-type"
IDENTIFIER = ":identifier"


def _quantity(code: str, value: Any, rows: IndexRows) -> None:
    number = _quantity_value(value)
    if number is not None:
        system, unit_code = _text(value.get("system")), _text(value.get("code"))
        rows.quantities.append((code, system, unit_code, _text(value.get("unit")), number))
        if system == ucum.SYSTEM and unit_code:
            converted = ucum.canonical(unit_code)
            if converted is not None:
                # A second row in canonical units lets `mg` searches find values recorded in `g`.
                rows.quantities.append((code + CANONICAL, ucum.SYSTEM, converted[0], None, number * converted[1]))


_ISO_4217 = "urn:iso:std:iso:4217"


def _money(code: str, value: Any, rows: IndexRows) -> None:
    number = _quantity_value(value)
    if number is not None:
        currency = _text(value.get("currency"))
        rows.quantities.append((code, _ISO_4217 if currency else None, currency, None, number))


def _quantity_range(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, dict):
        _quantity(code, value.get("low"), rows)
        _quantity(code, value.get("high"), rows)


def _quantity_number(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        rows.quantities.append((code, None, None, None, float(value)))


def _quantity_any(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, dict):
        if "currency" in value:
            _money(code, value, rows)
        elif "low" in value or "high" in value:
            _quantity_range(code, value, rows)
        else:
            _quantity(code, value, rows)
    else:
        _quantity_number(code, value, rows)


# --------------------------------------------------------------------------------------------- uri


def _uri(code: str, value: Any, rows: IndexRows) -> None:
    if isinstance(value, str) and value:
        rows.uris.append((code, value))


# --------------------------------------------------------------------------------------------- plans

_QUANTITY_TYPES = ("Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity")
_TOKEN_PRIMITIVES = ("code", "boolean", "string", "id", "uri", "url", "canonical", "oid", "uuid", "markdown")
_URI_TYPES = ("uri", "url", "canonical", "oid", "uuid")
_NUMBER_TYPES = ("decimal", "integer", "positiveInt", "unsignedInt")

_CONVERTERS: dict[str, dict[str | None, Converter]] = {
    "string": {
        "string": _string_row,
        "markdown": _string_row,
        "code": _string_row,
        "id": _string_row,
        "uri": _string_row,
        "HumanName": _human_name,
        "Address": _address,
        None: _string_any,
    },
    "token": {
        **dict.fromkeys(_TOKEN_PRIMITIVES, _token_primitive),
        "Coding": _coding,
        "CodeableConcept": _codeable_concept,
        "Identifier": _identifier,
        "ContactPoint": _contact_point,
        None: _token_any,
    },
    "reference": {
        "canonical": _canonical,
        "uri": _uri_reference,
        "url": _uri_reference,
        "Resource": _inline_resource,
    },
    "date": {
        "date": _date,
        "dateTime": _date,
        "instant": _date,
        "Period": _period,
        "Timing": _timing,
        None: _date_any,
    },
    "number": {**dict.fromkeys(_NUMBER_TYPES, _number), "Range": _number_range, None: _number_any},
    "quantity": {
        **dict.fromkeys(_QUANTITY_TYPES, _quantity),
        "Money": _money,
        "Range": _quantity_range,
        **dict.fromkeys(_NUMBER_TYPES, _quantity_number),
        None: _quantity_any,
    },
    "uri": {**dict.fromkeys(_URI_TYPES, _uri), None: _uri},
}
_ROOT_CONVERTERS: dict[str | None, RootConverter] = {"Reference": _reference, None: _reference_any}

# Parameters the store answers from its own columns.
_NOT_INDEXED = frozenset({"_id"})


def convert_value(kind: str, type_code: str | None, code: str, value: Any, rows: IndexRows,
                  root: dict[str, Any]) -> None:
    """Index one value of FHIR type `type_code` as a `kind` search value (used by composite components)."""
    if kind == "reference":
        root_convert = _ROOT_CONVERTERS.get(type_code) or _ROOT_CONVERTERS[None]
        if type_code in _ROOT_CONVERTERS or type_code not in _CONVERTERS["reference"]:
            root_convert(code, value, rows, root)
            return
    table = _CONVERTERS.get(kind, {})
    convert = table.get(type_code) or table.get(None)
    if convert is not None:
        convert(code, value, rows)


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One typed part of one parameter's expression, with the converter for its values."""

    param: SearchParam
    evaluate: Callable[[dict[str, Any]], list[Any]]
    convert: Converter | None
    convert_with_root: RootConverter | None
    anchor: str | None  # top-level element the resource must have for this step to find anything


def _composite_row(code: str, value: Any, rows: IndexRows) -> None:
    rows.composites.append(value)


def _steps(param: SearchParam, resource_type: str, registry: Registry) -> list[PlanStep]:
    if param.type == "composite":
        from caregate.search import composite

        extractors = composite.plan(param, registry, resource_type)
        return [PlanStep(param, fn, _composite_row, None, None) for fn in extractors]
    if param.expression is None or param.code in _NOT_INDEXED or param.type not in _CONVERTERS:
        return []
    try:
        parts = compile_typed(param.expression, resource_type)
    except FhirPathError:
        return []  # outside the compiled subset: the parameter is simply not indexed
    steps = []
    for part in parts:
        if param.type == "reference" and part.type in _ROOT_CONVERTERS:
            steps.append(PlanStep(param, part.evaluate, None, _ROOT_CONVERTERS[part.type], part.anchor))
            continue
        convert = _CONVERTERS[param.type].get(part.type)
        if convert is not None:
            steps.append(PlanStep(param, part.evaluate, convert, None, part.anchor))
        # other datatypes (an Attachment under a reference parameter, ...) have no search meaning
    return steps


_plans: WeakKeyDictionary[Registry, dict[str, tuple[PlanStep, ...]]] = WeakKeyDictionary()


def plan_for(resource_type: str, registry: Registry | None = None) -> tuple[PlanStep, ...]:
    """The cached indexing plan of a resource type (every parameter's compiled parts and converters)."""
    registry = registry or default_registry()
    per_type = _plans.get(registry)
    if per_type is None:
        per_type = _plans.setdefault(registry, {})
    plan = per_type.get(resource_type)
    if plan is None:
        steps = [s for p in registry.for_type(resource_type).values() for s in _steps(p, resource_type, registry)]
        plan = per_type[resource_type] = tuple(steps)
    return plan


def index_resource(resource: dict[str, Any], registry: Registry | None = None) -> IndexRows:
    """All index rows of one resource (deduplicated), for the parameters of its type in `registry`."""
    rows = IndexRows()
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return rows
    for step in plan_for(resource_type, registry):
        if step.anchor is not None and step.anchor not in resource:
            continue
        values = step.evaluate(resource)
        if not values:
            continue
        code = step.param.code
        convert = step.convert
        if convert is not None:
            for value in values:
                convert(code, value, rows)
        else:
            convert_with_root = step.convert_with_root
            assert convert_with_root is not None
            for value in values:
                convert_with_root(code, value, rows, resource)
    rows.deduplicate()
    return rows
