"""Conversion functions `toX()` and `convertsToX()` (http://hl7.org/fhirpath/N1/#conversion, §5.5).

Each `toX()` returns the converted single item or empty when it does not convert; `convertsToX()` says
whether it would. Both are empty for an empty input and an error for several items. String forms follow
N1: Booleans accept `true/t/yes/y/1/1.0` and their false counterparts (any case), Integers and Decimals
their literal syntax, Quantities `value ['unit' | calendar-word]` (`'1 \\'wk\\''`, `'4 days'`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from caregate.fhir.fhirpath.model import Node
from caregate.fhir.fhirpath.quantity import Quantity, convert_quantity, parse_quantity
from caregate.fhir.fhirpath.runtime import Env, function
from caregate.fhir.fhirpath.temporal import Date, DateTime, Time, parse_date, parse_datetime, parse_time
from caregate.fhir.fhirpath.values import single, text_of, to_system

__all__: list[str] = []

_INTEGER_RE = re.compile(r"[+-]?\d+")
_DECIMAL_RE = re.compile(r"[+-]?\d+(?:\.\d+)?")
_TRUE = frozenset(("true", "t", "yes", "y", "1", "1.0"))
_FALSE = frozenset(("false", "f", "no", "n", "0", "0.0"))


def _boolean(v: Any) -> bool | None:
    if v is True or v is False:
        return v
    if v.__class__ is int or v.__class__ is Decimal:
        return True if v == 1 else False if v == 0 else None
    if v.__class__ is str:
        lowered = v.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    return None


def _integer(v: Any) -> int | None:
    if v is True or v is False:
        return int(v)
    if v.__class__ is int:
        return v
    if v.__class__ is str and _INTEGER_RE.fullmatch(v):
        return int(v)
    return None


def _decimal(v: Any) -> Decimal | None:
    if v is True or v is False:
        return Decimal("1.0") if v else Decimal("0.0")
    if v.__class__ is int or v.__class__ is Decimal:
        return Decimal(v)
    if v.__class__ is str and _DECIMAL_RE.fullmatch(v):
        return Decimal(v)
    return None


def _string(v: Any) -> str | None:
    return None if v.__class__ is Node else text_of(v)


def _date(v: Any) -> Date | None:
    if v.__class__ is Date:
        return v
    if v.__class__ is DateTime:
        return Date(v.parts[:3])
    return parse_date(v) if v.__class__ is str else None


def _datetime(v: Any) -> DateTime | None:
    if v.__class__ is DateTime:
        return v
    if v.__class__ is Date:
        return DateTime(v.parts)
    return parse_datetime(v) if v.__class__ is str else None


def _time(v: Any) -> Time | None:
    if v.__class__ is Time:
        return v
    return parse_time(v) if v.__class__ is str else None


def _quantity(v: Any) -> Quantity | None:
    if v is True or v is False:
        return Quantity(Decimal("1.0") if v else Decimal("0.0"), "1")
    if v.__class__ is int or v.__class__ is Decimal:
        return Quantity(Decimal(v), "1")
    if v.__class__ is Quantity:
        return v
    return parse_quantity(v) if v.__class__ is str else None


def _register(name: str, convert: Callable[[Any], Any]) -> None:
    def to(env: Env, items: list) -> list:
        value = to_system(single(items, f"to{name}()"))
        if value is None:
            return []
        result = convert(value)
        return [] if result is None else [result]

    def converts(env: Env, items: list) -> list:
        value = to_system(single(items, f"convertsTo{name}()"))
        return [] if value is None else [convert(value) is not None]

    function(f"to{name}")(to)
    function(f"convertsTo{name}")(converts)


for _name, _convert in (("Boolean", _boolean), ("Integer", _integer), ("Decimal", _decimal), ("String", _string),
                        ("Date", _date), ("DateTime", _datetime), ("Time", _time)):
    _register(_name, _convert)


def _to_quantity(items: list, unit: list | None, what: str) -> Quantity | None:
    value = to_system(single(items, what))
    if value is None:
        return None
    q = _quantity(value)
    if q is None or not unit:
        return q
    target = to_system(single(unit, what))
    return convert_quantity(q, str(target))


@function("toQuantity", 0, 1)
def _to_quantity_fn(env: Env, items: list, unit: list | None = None) -> list:
    q = _to_quantity(items, unit, "toQuantity()")
    return [] if q is None else [q]


@function("convertsToQuantity", 0, 1)
def _converts_to_quantity(env: Env, items: list, unit: list | None = None) -> list:
    if not items:
        return []
    return [_to_quantity(items, unit, "convertsToQuantity()") is not None]
