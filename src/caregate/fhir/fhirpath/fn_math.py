"""Math functions (http://hl7.org/fhirpath/N1/#math, §5.7) and the precision functions `precision()`,
`lowBoundary()`, `highBoundary()` and `comparable()` that the official suite tests (FHIRPath 2.0 §5.7.3,
http://hl7.org/fhirpath/#lowboundaryprecision-integer-decimal--date--datetime--time).

Results that are not real numbers (`(-1).sqrt()`, `(-1).power(0.5)`) are empty, as N1 specifies.
A decimal's boundaries are the value plus or minus half a unit in its last written digit (`1.587` stands
for 1.5865 .. 1.5875), given to the requested number of decimal places (default 8); the suite's
expectations fix how digits beyond that are dropped (truncated for the low boundary of a positive value,
rounded half-up for its high boundary, mirrored for negative values).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from caregate.fhir.fhirpath.errors import FhirPathEvaluationError
from caregate.fhir.fhirpath.quantity import Quantity, canonical_quantity
from caregate.fhir.fhirpath.runtime import Env, function
from caregate.fhir.fhirpath.temporal import Temporal, boundary, precision_digits
from caregate.fhir.fhirpath.values import single, to_system, type_of

__all__ = ["decimal_boundary"]

_MAX_PRECISION = 28


def _number(items: list, what: str, quantity: bool = False) -> Any:
    value = to_system(single(items, what))
    if value is None:
        return None
    if value.__class__ is int or value.__class__ is Decimal or (quantity and value.__class__ is Quantity):
        return value
    raise FhirPathEvaluationError(f"{what} needs a number, got {type_of(value)}")


def _unary(name: str, on_decimal: Any, quantity: bool = False) -> None:
    def impl(env: Env, items: list) -> list:
        value = _number(items, f"{name}()", quantity)
        if value is None:
            return []
        if value.__class__ is Quantity:
            return [Quantity(on_decimal(value.value), value.unit)]
        try:
            result = on_decimal(value)
        except (InvalidOperation, ValueError, ArithmeticError):
            return []
        return [] if result is None else [result]

    function(name)(impl)


def _integral(rounding: str) -> Any:
    return lambda v: v if v.__class__ is int else int(v.to_integral_value(rounding))


def _sqrt(v: int | Decimal) -> Decimal | None:
    return None if v < 0 else Decimal(v).sqrt()


def _ln(v: int | Decimal) -> Decimal | None:
    return None if v <= 0 else Decimal(v).ln()


_unary("abs", abs, quantity=True)
_unary("ceiling", _integral(ROUND_CEILING))
_unary("floor", _integral(ROUND_FLOOR))
_unary("truncate", _integral(ROUND_DOWN))
_unary("exp", lambda v: Decimal(v).exp())
_unary("ln", _ln)
_unary("sqrt", _sqrt)


@function("log", 1)
def _log(env: Env, items: list, base: list) -> list:
    value, b = _number(items, "log()"), _number(base, "log()")
    if value is None or b is None or value <= 0 or b <= 0 or b == 1:
        return []
    return [Decimal(value).ln() / Decimal(b).ln()]


@function("power", 1)
def _power(env: Env, items: list, exponent: list) -> list:
    value, e = _number(items, "power()"), _number(exponent, "power()")
    if value is None or e is None:
        return []
    if value.__class__ is int and e.__class__ is int and e >= 0:
        return [value**e]
    try:
        result = Decimal(value) ** Decimal(e)
    except (InvalidOperation, ArithmeticError):
        return []
    return [] if result.is_nan() else [result]


@function("round", 0, 1)
def _round(env: Env, items: list, digits: list | None = None) -> list:
    value = _number(items, "round()")
    places = 0 if digits is None else _number(digits, "round()")
    if value is None or places is None:
        return []
    if places.__class__ is not int or places < 0:
        raise FhirPathEvaluationError("round() needs a non-negative Integer precision")
    return [Decimal(value).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)]


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def decimal_boundary(value: int | Decimal, digits: int | None, high: bool) -> Decimal | None:
    """Low or high boundary of a decimal to `digits` decimal places (see module docstring)."""
    digits = 8 if digits is None else digits
    if digits < 0 or digits > _MAX_PRECISION:
        return None
    value = Decimal(value)
    if value < 0:
        mirrored = decimal_boundary(value.copy_negate(), digits, not high)
        return None if mirrored is None else mirrored.copy_negate()
    scale = _places(value)
    edge = value + Decimal(5).scaleb(-(scale + 1)) if high else value - Decimal(5).scaleb(-(scale + 1))
    exponent = Decimal(1).scaleb(-digits)
    if digits > scale:
        return edge.quantize(exponent)
    return edge.quantize(exponent, ROUND_HALF_UP if high else ROUND_DOWN)


def _boundary(high: bool) -> Any:
    def impl(env: Env, items: list, digits: list | None = None) -> list:
        value = to_system(single(items, "boundary"))
        places = None if not digits else _number(digits, "boundary")
        if value is None:
            return []
        if isinstance(value, Temporal):
            result = boundary(value, places, high)
            return [] if result is None else [result]
        if value.__class__ is Quantity:
            number = decimal_boundary(value.value, places, high)
            return [] if number is None else [Quantity(number, value.unit)]
        if value.__class__ is int or value.__class__ is Decimal:
            number = decimal_boundary(value, places, high)
            return [] if number is None else [number]
        raise FhirPathEvaluationError(f"boundaries need a number, quantity or date/time, got {type_of(value)}")

    return impl


function("lowBoundary", 0, 1)(_boundary(False))
function("highBoundary", 0, 1)(_boundary(True))


@function("precision")
def _precision(env: Env, items: list) -> list:
    value = to_system(single(items, "precision()"))
    if value is None:
        return []
    if isinstance(value, Temporal):
        return [precision_digits(value)]
    if value.__class__ is Decimal:
        return [_places(value)]
    if value.__class__ is int:
        return [0]
    raise FhirPathEvaluationError(f"precision() needs a number or date/time, got {type_of(value)}")


@function("comparable", 1)
def _comparable(env: Env, items: list, other: list) -> list:
    a, b = to_system(single(items, "comparable()")), to_system(single(other, "comparable()"))
    if a is None or b is None:
        return []
    if a.__class__ is not Quantity or b.__class__ is not Quantity:
        raise FhirPathEvaluationError("comparable() compares two quantities")
    ca, cb = canonical_quantity(a), canonical_quantity(b)
    return [ca is not None and cb is not None and ca[1] == cb[1]]
