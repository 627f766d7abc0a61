"""The FHIRPath operators over collections (http://hl7.org/fhirpath/N1/#operations).

Every operator takes the two operand collections. Equality and comparison give the empty collection
when an operand is empty; `and`, `or`, `xor` and `implies` use three-valued logic (N1 §6.5); arithmetic
needs single items and signals an error on incompatible types (`'a' - 'b'`), except that division by
zero is empty (N1 §6.6). Date/time arithmetic takes calendar durations or the UCUM definite durations
`'wk'`..`'ms'`; `'a'` and `'mo'` are not fixed lengths and are rejected (N1 §6.6.1).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

from caregate.fhir.fhirpath.errors import FhirPathEvaluationError
from caregate.fhir.fhirpath.quantity import (
    CALENDAR_UNITS,
    Quantity,
    add_quantities,
    divide_quantities,
    multiply_quantities,
)
from caregate.fhir.fhirpath.temporal import Temporal, add_duration
from caregate.fhir.fhirpath.values import (
    compare,
    distinct,
    equal,
    equivalent,
    single,
    text_of,
    to_boolean,
    to_system,
    type_of,
)

__all__ = ["BINARY_OPERATORS", "negate"]

_CALENDAR_OF_UCUM = {"wk": "week", "d": "day", "h": "hour", "min": "minute", "s": "second", "ms": "millisecond"}


def _eq(left: list, right: list) -> list:
    if not left or not right:
        return []
    if len(left) != len(right):
        return [False]
    undetermined = False
    for a, b in zip(left, right, strict=True):
        result = equal(a, b)
        if result is False:
            return [False]
        if result is None:
            undetermined = True
    return [] if undetermined else [True]


def _ne(left: list, right: list) -> list:
    result = _eq(left, right)
    return [not result[0]] if result else []


def _equivalent(left: list, right: list) -> bool:
    if len(left) != len(right):
        return False
    unmatched = list(right)
    for a in left:
        for i, b in enumerate(unmatched):
            if equivalent(a, b):
                del unmatched[i]
                break
        else:
            return False
    return True


def _ordering(test: Callable[[int], bool]) -> Callable[[list, list], list]:
    def op(left: list, right: list) -> list:
        if not left or not right:
            return []
        c = compare(single(left, "comparison"), single(right, "comparison"))
        return [] if c is None else [test(c)]

    return op


def _union(left: list, right: list) -> list:
    return distinct(left + right)


def _membership(item: list, collection: list) -> list:
    if not item:
        return []
    value = single(item, "in/contains")
    return [any(equal(value, other) is True for other in collection)]


def _and(left: list, right: list) -> list:
    a, b = to_boolean(left, "and"), to_boolean(right, "and")
    if a is False or b is False:
        return [False]
    return [True] if a is True and b is True else []


def _or(left: list, right: list) -> list:
    a, b = to_boolean(left, "or"), to_boolean(right, "or")
    if a is True or b is True:
        return [True]
    return [False] if a is False and b is False else []


def _xor(left: list, right: list) -> list:
    a, b = to_boolean(left, "xor"), to_boolean(right, "xor")
    return [] if a is None or b is None else [a != b]


def _implies(left: list, right: list) -> list:
    a, b = to_boolean(left, "implies"), to_boolean(right, "implies")
    if a is False or b is True:
        return [True]
    return [False] if a is True and b is False else []


def _duration(q: Quantity) -> tuple[int, str]:
    unit = CALENDAR_UNITS.get(q.unit) or _CALENDAR_OF_UCUM.get(q.unit)
    if unit is None:
        raise FhirPathEvaluationError(f"{q} is not a calendar duration for date/time arithmetic")
    return int(q.value.to_integral_value(ROUND_DOWN)), unit


def _is_number(value: Any) -> bool:
    return value.__class__ is int or value.__class__ is Decimal


def _operands(left: list, right: list, op: str) -> tuple[Any, Any] | None:
    if not left or not right:
        return None
    a, b = to_system(single(left, op)), to_system(single(right, op))
    if a is None or b is None:
        return None
    return a, b


def _add_sub(sign: int) -> Callable[[list, list], list]:
    symbol = "+" if sign > 0 else "-"

    def op(left: list, right: list) -> list:
        operands = _operands(left, right, symbol)
        if operands is None:
            return []
        a, b = operands
        if _is_number(a) and _is_number(b):
            if a.__class__ is int and b.__class__ is int:
                return [a + sign * b]
            return [Decimal(a) + sign * Decimal(b)]
        if sign > 0 and a.__class__ is str and b.__class__ is str:
            return [a + b]
        if isinstance(a, Temporal) and b.__class__ is Quantity:
            amount, unit = _duration(b)
            try:
                return [add_duration(a, sign * amount, unit)]
            except ValueError as e:
                raise FhirPathEvaluationError(str(e)) from None
        if a.__class__ is Quantity and b.__class__ is Quantity:
            result = add_quantities(a, b, sign)
            return [] if result is None else [result]
        raise FhirPathEvaluationError(f"cannot apply {symbol} to {type_of(a)} and {type_of(b)}")

    return op


def _multiply(left: list, right: list) -> list:
    operands = _operands(left, right, "*")
    if operands is None:
        return []
    a, b = operands
    if _is_number(a) and _is_number(b):
        return [a * b if a.__class__ is int and b.__class__ is int else Decimal(a) * Decimal(b)]
    if a.__class__ is Quantity or b.__class__ is Quantity:
        qa = a if a.__class__ is Quantity else Quantity(Decimal(a), "1") if _is_number(a) else None
        qb = b if b.__class__ is Quantity else Quantity(Decimal(b), "1") if _is_number(b) else None
        if qa is not None and qb is not None:
            return [multiply_quantities(qa, qb)]
    raise FhirPathEvaluationError(f"cannot multiply {type_of(a)} and {type_of(b)}")


def _divide(left: list, right: list) -> list:
    operands = _operands(left, right, "/")
    if operands is None:
        return []
    a, b = operands
    if _is_number(a) and _is_number(b):
        return [] if b == 0 else [Decimal(a) / Decimal(b)]
    if a.__class__ is Quantity and (b.__class__ is Quantity or _is_number(b)):
        qb = b if b.__class__ is Quantity else Quantity(Decimal(b), "1")
        result = divide_quantities(a, qb)
        return [] if result is None else [result]
    raise FhirPathEvaluationError(f"cannot divide {type_of(a)} by {type_of(b)}")


def _div(left: list, right: list) -> list:
    operands = _operands(left, right, "div")
    if operands is None:
        return []
    a, b = operands
    if not (_is_number(a) and _is_number(b)):
        raise FhirPathEvaluationError(f"div needs numbers, got {type_of(a)} and {type_of(b)}")
    if b == 0:
        return []
    return [int((Decimal(a) / Decimal(b)).to_integral_value(ROUND_DOWN))]


def _mod(left: list, right: list) -> list:
    operands = _operands(left, right, "mod")
    if operands is None:
        return []
    a, b = operands
    if not (_is_number(a) and _is_number(b)):
        raise FhirPathEvaluationError(f"mod needs numbers, got {type_of(a)} and {type_of(b)}")
    if b == 0:
        return []
    if a.__class__ is int and b.__class__ is int:
        quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return [a - b * quotient]
    return [Decimal(a) % Decimal(b)]


def _concatenate(left: list, right: list) -> list:
    a, b = single(left, "&"), single(right, "&")
    return [("" if a is None else text_of(a)) + ("" if b is None else text_of(b))]


def negate(operand: list, op: str) -> list:
    """Unary `-` / `+` on a number or quantity; other types are an error (N1 §6.6 "polarity")."""
    if not operand:
        return []
    value = to_system(single(operand, f"unary {op}"))
    if value.__class__ is int or value.__class__ is Decimal:
        return [-value if op == "-" else value]
    if value.__class__ is Quantity:
        return [Quantity(-value.value, value.unit) if op == "-" else value]
    raise FhirPathEvaluationError(f"unary {op} needs a number or quantity, got {type_of(value)}")


BINARY_OPERATORS: dict[str, Callable[[list, list], list]] = {
    "=": _eq,
    "!=": _ne,
    "~": lambda left, right: [_equivalent(left, right)],
    "!~": lambda left, right: [not _equivalent(left, right)],
    "<": _ordering(lambda c: c < 0),
    "<=": _ordering(lambda c: c <= 0),
    ">": _ordering(lambda c: c > 0),
    ">=": _ordering(lambda c: c >= 0),
    "|": _union,
    "in": _membership,
    "contains": lambda left, right: _membership(right, left),
    "and": _and,
    "or": _or,
    "xor": _xor,
    "implies": _implies,
    "+": _add_sub(1),
    "-": _add_sub(-1),
    "*": _multiply,
    "/": _divide,
    "div": _div,
    "mod": _mod,
    "&": _concatenate,
}
"""Operator symbol -> function of the (already evaluated) operand collections."""
