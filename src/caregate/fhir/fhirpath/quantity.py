"""System.Quantity: a decimal value with a UCUM unit or a calendar duration (N1 §2.4 "Quantity").

Calendar durations (`4 days`, `1 year`) are written as words and are distinct from UCUM definite
durations; N1 §6.1.1 makes `week`..`millisecond` equal to `'wk'`..`'ms'`, while `year` and `month` are
comparable only with each other (`1 year = 1 'a'` is empty, not true). Quantities of the same dimension
compare after conversion (`4.0 'g' = 4000 'mg'`, `Observation.value < 200 '[lb_av]'`); equivalence (`~`)
rounds both to the precision of the less precise value (N1 §6.1.3).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal

from caregate.fhir.fhirpath.ucum import convert, parse_unit

__all__ = [
    "CALENDAR_UNITS",
    "Quantity",
    "add_quantities",
    "canonical_quantity",
    "compare_quantities",
    "convert_quantity",
    "decimal_text",
    "divide_quantities",
    "equivalent_decimals",
    "equivalent_quantities",
    "multiply_quantities",
    "parse_quantity",
]

_CTX = Context(prec=40)
CALENDAR_UNITS = {
    "year": "year", "years": "year", "month": "month", "months": "month", "week": "week", "weeks": "week",
    "day": "day", "days": "day", "hour": "hour", "hours": "hour", "minute": "minute", "minutes": "minute",
    "second": "second", "seconds": "second", "millisecond": "millisecond", "milliseconds": "millisecond",
}
"""Calendar keywords (singular and plural) -> canonical singular."""
_UCUM_OF_CALENDAR = {"week": "wk", "day": "d", "hour": "h", "minute": "min", "second": "s", "millisecond": "ms"}
_MONTHS = {"year": 12, "month": 1}
_QUANTITY_RE = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*(?:'([^']*)'|([A-Za-z]+))?\s*")


def decimal_text(value: Decimal) -> str:
    """A decimal in plain notation keeping its scale (`1.0` stays `1.0`, never `1E+1`)."""
    return format(value, "f")


class Quantity:
    """A value and a unit: a UCUM code (default `'1'`) or a calendar keyword as written (`days`)."""

    __slots__ = ("unit", "value")

    def __init__(self, value: Decimal, unit: str = "1") -> None:
        self.value = value
        self.unit = unit

    @property
    def is_calendar(self) -> bool:
        return self.unit in CALENDAR_UNITS

    def __eq__(self, other: object) -> bool:
        # Structural identity; FHIRPath `=` with unit conversion is compare_quantities().
        return type(other) is Quantity and other.value == self.value and other.unit == self.unit

    def __hash__(self) -> int:
        return hash((self.value, self.unit))

    def __str__(self) -> str:
        if self.is_calendar:
            return f"{decimal_text(self.value)} {self.unit}"
        return f"{decimal_text(self.value)} '{self.unit}'"

    def __repr__(self) -> str:
        return f"Quantity({self})"


def canonical_quantity(q: Quantity) -> tuple[Decimal, tuple] | None:
    """The value in base units and the dimension vector, or None for a unit outside the UCUM table."""
    unit = q.unit
    if unit in CALENDAR_UNITS:
        name = CALENDAR_UNITS[unit]
        if name in _MONTHS:
            return q.value * _MONTHS[name], (("calendar-month", 1),)
        unit = _UCUM_OF_CALENDAR[name]
    parsed = parse_unit(unit)
    if parsed is None:
        return None
    return _CTX.multiply(q.value, parsed.factor), parsed.dims


def compare_quantities(a: Quantity, b: Quantity) -> int | None:
    """-1, 0 or 1 after unit conversion; None when the units are not commensurable."""
    if a.unit == b.unit:
        x, y = a.value, b.value
    else:
        ca, cb = canonical_quantity(a), canonical_quantity(b)
        if ca is None or cb is None or ca[1] != cb[1]:
            return None
        x, y = ca[0], cb[0]
    return (x > y) - (x < y)


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def equivalent_decimals(x: Decimal, y: Decimal) -> bool:
    """Decimal equivalence: equal when rounded to the precision of the less precise operand (N1 §6.1.3)."""
    exp = Decimal(1).scaleb(-min(_places(x), _places(y)))
    return x.quantize(exp, ROUND_HALF_UP, _CTX) == y.quantize(exp, ROUND_HALF_UP, _CTX)


def equivalent_quantities(a: Quantity, b: Quantity) -> bool:
    """Quantity equivalence: commensurable and equal at the lesser precision."""
    if a.unit == b.unit:
        return equivalent_decimals(a.value, b.value)
    ca, cb = canonical_quantity(a), canonical_quantity(b)
    if ca is None or cb is None or ca[1] != cb[1]:
        return False
    return equivalent_decimals(ca[0], cb[0])


def convert_quantity(q: Quantity, unit: str) -> Quantity | None:
    """`q` expressed in `unit` (UCUM or calendar), or None when not commensurable (`toQuantity(unit)`)."""
    if q.unit == unit:
        return q
    source = _UCUM_OF_CALENDAR.get(CALENDAR_UNITS.get(q.unit, ""), q.unit)
    target = _UCUM_OF_CALENDAR.get(CALENDAR_UNITS.get(unit, ""), unit)
    if CALENDAR_UNITS.get(q.unit) in _MONTHS or CALENDAR_UNITS.get(unit) in _MONTHS:
        a, b = CALENDAR_UNITS.get(q.unit), CALENDAR_UNITS.get(unit)
        if a in _MONTHS and b in _MONTHS:
            return Quantity(_CTX.divide(q.value * _MONTHS[a], _MONTHS[b]), unit)
        return None
    value = convert(q.value, source, target)
    return None if value is None else Quantity(value, unit)


def _ucum(unit: str) -> str:
    name = CALENDAR_UNITS.get(unit)
    if name is None:
        return unit
    return {"year": "a", "month": "mo"}.get(name) or _UCUM_OF_CALENDAR[name]


def _wrap(unit: str) -> str:
    return f"({unit})" if "." in unit or "/" in unit else unit


def add_quantities(a: Quantity, b: Quantity, sign: int) -> Quantity | None:
    """`a + b` (sign 1) or `a - b` (sign -1) in a's unit; None when not commensurable."""
    other = convert_quantity(b, a.unit)
    if other is None:
        return None
    return Quantity(a.value + sign * other.value, a.unit)


def multiply_quantities(a: Quantity, b: Quantity) -> Quantity:
    """`a * b`: values multiply, units combine as a UCUM product (`'cm' * 'm'` -> `'cm.m'`)."""
    ua, ub = _ucum(a.unit), _ucum(b.unit)
    unit = ub if ua == "1" else ua if ub == "1" else f"{_wrap(ua)}.{_wrap(ub)}"
    return Quantity(_CTX.multiply(a.value, b.value), unit)


def divide_quantities(a: Quantity, b: Quantity) -> Quantity | None:
    """`a / b` (None on division by zero): `'g' / 'm'` -> `'g/m'`, equal units give `'1'`."""
    if b.value == 0:
        return None
    ua, ub = _ucum(a.unit), _ucum(b.unit)
    if ua == ub:
        unit = "1"
    elif ub == "1":
        unit = ua
    else:
        unit = f"{_wrap(ua) if ua != '1' else ''}/{_wrap(ub)}"
    return Quantity(_CTX.divide(a.value, b.value), unit)


def parse_quantity(text: str) -> Quantity | None:
    """Parse the string form `value ['unit' | calendar-word]` used by `toQuantity()` (N1 §5.5.9)."""
    m = _QUANTITY_RE.fullmatch(text)
    if m is None:
        return None
    number, quoted, word = m.groups()
    if word is not None and word not in CALENDAR_UNITS:
        return None
    return Quantity(Decimal(number), quoted if quoted is not None else word or "1")
