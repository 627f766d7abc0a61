"""Date, DateTime and Time values with partial precision (http://hl7.org/fhirpath/N1/#datetime).

A value keeps only the components it was written with: `@2018-03` has precision month. Comparison works
on the interval of instants a value may stand for (N1 §6.1 "=", §6.2 "Comparison"): disjoint intervals
order, equal values of the same precision are equal, and anything else is *undetermined*, which the
operators turn into the empty collection (`@2018-03 < @2018-03-01` is `{}`). Seconds and milliseconds are
one precision ("seconds are a decimal", N1 §6.1.1). Values with a time part are normalised to UTC when
both carry a timezone offset; when only one does, the other could be in any zone from -12:00 to +14:00,
so its interval is widened accordingly (a nearby instant is undetermined rather than guessed).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from functools import lru_cache
from typing import ClassVar

__all__ = [
    "Date",
    "DateTime",
    "Temporal",
    "Time",
    "add_duration",
    "boundary",
    "compare",
    "from_datetime",
    "parse_date",
    "parse_datetime",
    "parse_time",
    "precision_digits",
]

_SECOND = 1000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_DT_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(?:T(?:(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?(Z|[+-]\d{2}:\d{2})?)?"
)
_TIME_RE = re.compile(r"(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?")
_DATE_DIGITS = (4, 6, 8, 10, 12, 14, 17)
_TIME_DIGITS = (2, 4, 6, 9)


class Temporal:
    """Common part of Date, DateTime and Time: the written components and the timezone offset text."""

    __slots__ = ("parts", "tz")
    kind: ClassVar[str] = ""

    def __init__(self, parts: tuple[int, ...], tz: str | None = None) -> None:
        self.parts = parts
        self.tz = tz

    @property
    def precision(self) -> int:
        """Number of components written (Date/DateTime: year=1 .. millisecond=7; Time: hour=1 .. ms=4)."""
        return len(self.parts)

    def __eq__(self, other: object) -> bool:
        # Structural identity (same kind, components and offset text), not FHIRPath `=`: see compare().
        return type(other) is type(self) and other.parts == self.parts and other.tz == self.tz  # type: ignore

    def __hash__(self) -> int:
        return hash((self.kind, self.parts, self.tz))

    def __repr__(self) -> str:
        return f"@{'T' if self.kind == 'Time' else ''}{self}"


class Date(Temporal):
    """System.Date: year, month, day."""

    __slots__ = ()
    kind = "Date"

    def __str__(self) -> str:
        return _date_text(self.parts)


class DateTime(Temporal):
    """System.DateTime: a date, optionally a time and a timezone offset."""

    __slots__ = ()
    kind = "DateTime"

    def __str__(self) -> str:
        text = _date_text(self.parts)
        if len(self.parts) > 3:
            text += "T" + _time_text(self.parts[3:]) + (self.tz or "")
        return text


class Time(Temporal):
    """System.Time: a time of day without date or timezone."""

    __slots__ = ()
    kind = "Time"

    def __str__(self) -> str:
        return _time_text(self.parts)


def _date_text(parts: tuple[int, ...]) -> str:
    text = f"{parts[0]:04d}"
    if len(parts) > 1:
        text += f"-{parts[1]:02d}"
    if len(parts) > 2:
        text += f"-{parts[2]:02d}"
    return text


def _time_text(parts: tuple[int, ...]) -> str:
    text = f"{parts[0]:02d}"
    if len(parts) > 1:
        text += f":{parts[1]:02d}"
    if len(parts) > 2:
        text += f":{parts[2]:02d}"
    if len(parts) > 3:
        text += f".{parts[3]:03d}"
    return text


def _millis(fraction: str | None) -> list[int]:
    return [] if fraction is None else [int((fraction + "00")[:3])]


def _valid_date(parts: list[int]) -> bool:
    if len(parts) > 1 and not 1 <= parts[1] <= 12:
        return False
    return not (len(parts) > 2 and not 1 <= parts[2] <= calendar.monthrange(parts[0], parts[1])[1])


def _valid_time(parts: list[int]) -> bool:
    limits = (23, 59, 59, 999)
    return all(0 <= v <= limit for v, limit in zip(parts, limits, strict=False))


@lru_cache(maxsize=4096)
def parse_datetime(text: str) -> DateTime | None:
    """Parse an ISO 8601 date or datetime (`2015`, `2015-02-04T14:34:28.123+10:00`, FHIR `instant`)."""
    m = _DT_RE.fullmatch(text)
    if m is None or int(m.group(1)) == 0:
        return None
    groups = m.groups()
    parts = [int(g) for g in groups[:6] if g is not None] + _millis(groups[6])
    if len(parts) != sum(g is not None for g in groups[:7]) or (groups[7] and len(parts) < 4):
        return None
    if not _valid_date(parts[:3]) or not _valid_time(parts[3:]):
        return None
    return DateTime(tuple(parts), groups[7])


@lru_cache(maxsize=4096)
def parse_date(text: str) -> Date | None:
    """Parse a date (`2015`, `2015-02`, `2015-02-04`); datetimes are not dates."""
    if "T" in text:
        return None
    value = parse_datetime(text)
    return None if value is None else Date(value.parts)


@lru_cache(maxsize=1024)
def parse_time(text: str) -> Time | None:
    """Parse a time of day (`14`, `14:34`, `14:34:28.123`)."""
    m = _TIME_RE.fullmatch(text)
    if m is None:
        return None
    parts = [int(g) for g in m.groups()[:3] if g is not None] + _millis(m.group(4))
    return Time(tuple(parts)) if _valid_time(parts) else None


def from_datetime(moment: datetime, kind: str = "DateTime") -> Temporal:
    """The Date, DateTime (millisecond precision, with offset) or Time of a Python datetime."""
    if kind == "Date":
        return Date((moment.year, moment.month, moment.day))
    if kind == "Time":
        return Time((moment.hour, moment.minute, moment.second, moment.microsecond // 1000))
    offset = moment.utcoffset()
    tz = None
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        tz = "Z" if minutes == 0 else f"{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    parts = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
             moment.microsecond // 1000)
    return DateTime(parts, tz)


def _offset_ms(tz: str | None) -> int | None:
    if tz is None:
        return None
    if tz == "Z":
        return 0
    sign = -1 if tz[0] == "-" else 1
    return sign * (int(tz[1:3]) * _HOUR + int(tz[4:6]) * _MINUTE)


def _month_start(year: int, month: int) -> int:
    return date(year, month, 1).toordinal()


def _bounds(value: Temporal) -> tuple[int, int]:
    """First and last millisecond (naive, local) that a partial value may stand for."""
    p = value.parts
    n = len(p)
    if value.kind == "Time":
        lo = p[0] * _HOUR + (p[1] if n > 1 else 0) * _MINUTE + (p[2] if n > 2 else 0) * _SECOND + (p[3] if n > 3 else 0)
        width = (_HOUR, _MINUTE)[n - 1] if n < 3 else 1
        return lo, lo + width - 1
    year, month, day = p[0], p[1] if n > 1 else 1, p[2] if n > 2 else 1
    start_day = date(year, month, day).toordinal()
    lo = start_day * _DAY
    if n > 3:
        lo += p[3] * _HOUR + (p[4] if n > 4 else 0) * _MINUTE + (p[5] if n > 5 else 0) * _SECOND
        lo += p[6] if n > 6 else 0
    if n == 1:
        return lo, date(year, 12, 31).toordinal() * _DAY + _DAY - 1
    if n == 2:
        return lo, (start_day + calendar.monthrange(year, month)[1]) * _DAY - 1
    width = (_DAY, _HOUR, _MINUTE)[n - 3] if n < 6 else 1
    return lo, lo + width - 1


def _precision_class(value: Temporal) -> int:
    return min(len(value.parts), 3 if value.kind == "Time" else 6)


def compare(a: Temporal, b: Temporal) -> int | None:
    """-1, 0 or 1, or None when the precisions leave the order undetermined (N1 §6.2).

    Dates compare with DateTimes (a Date converts implicitly); Time only compares with Time (the caller
    checks kinds).
    """
    alo, ahi = _bounds(a)
    blo, bhi = _bounds(b)
    mixed = False
    if a.kind != "Time" and len(a.parts) > 3 and len(b.parts) > 3:
        oa, ob = _offset_ms(a.tz), _offset_ms(b.tz)
        if oa is not None and ob is not None:
            alo, ahi, blo, bhi = alo - oa, ahi - oa, blo - ob, bhi - ob
        elif oa is not None:
            mixed = True
            alo, ahi, blo, bhi = alo - oa, ahi - oa, blo - 14 * _HOUR, bhi + 12 * _HOUR
        elif ob is not None:
            mixed = True
            alo, ahi, blo, bhi = alo - 14 * _HOUR, ahi + 12 * _HOUR, blo - ob, bhi - ob
    if ahi < blo:
        return -1
    if alo > bhi:
        return 1
    if not mixed and alo == blo and _precision_class(a) == _precision_class(b):
        return 0
    return None


def _from_millis(total: int, n: int) -> tuple[int, ...]:
    day, rest = divmod(total, _DAY)
    d = date.fromordinal(day)
    parts = (d.year, d.month, d.day, rest // _HOUR, rest // _MINUTE % 60, rest // _SECOND % 60, rest % _SECOND)
    return parts[:n]


_MONTH_UNITS = {"year": 12, "month": 1}
_MS_UNITS = {"week": 7 * _DAY, "day": _DAY, "hour": _HOUR, "minute": _MINUTE, "second": _SECOND, "millisecond": 1}
_PRECISION_MS = {3: _DAY, 4: _HOUR, 5: _MINUTE, 6: _SECOND, 7: 1}


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def add_duration(value: Temporal, amount: int, unit: str) -> Temporal:
    """`value + amount unit` for a calendar unit (year .. millisecond), keeping the value's precision.

    Per N1 §6.6.1 ("Date/Time Arithmetic"), a unit finer than the value's precision is converted to the
    precision's unit and truncated; month arithmetic clamps the day to the end of the month. Raises
    ValueError for units that do not apply (years to a Time).
    """
    parts = list(value.parts)
    n = len(parts)
    if value.kind == "Time":
        if unit not in _MS_UNITS or unit in ("week", "day"):
            raise ValueError(f"cannot add {unit} to a Time")
        step = (_HOUR, _MINUTE, _SECOND, 1)[n - 1]
        lo, _ = _bounds(value)
        total = (lo + _trunc_div(amount * _MS_UNITS[unit], step) * step) % _DAY
        return Time(_from_millis(total, 7)[3 : 3 + n])
    if unit in _MONTH_UNITS:
        months = amount * _MONTH_UNITS[unit]
        if n == 1:
            parts[0] += _trunc_div(months, 12)
        else:
            total = parts[0] * 12 + parts[1] - 1 + months
            parts[0], parts[1] = divmod(total, 12)
            parts[1] += 1
            if n > 2:
                parts[2] = min(parts[2], calendar.monthrange(parts[0], parts[1])[1])
        return type(value)(tuple(parts), value.tz)
    if unit not in _MS_UNITS:
        raise ValueError(f"{unit!r} is not a calendar duration")
    millis = amount * _MS_UNITS[unit]
    if n < 3:
        return add_duration(value, _trunc_div(millis, (365 if n == 1 else 30) * _DAY), "year" if n == 1 else "month")
    step = _PRECISION_MS[n]
    lo, _ = _bounds(value)
    return type(value)(_from_millis(lo + _trunc_div(millis, step) * step, n), value.tz)


def precision_digits(value: Temporal) -> int:
    """The `precision()` of a temporal value: digits written (`@2014` -> 4, `@T10:30` -> 4)."""
    return (_TIME_DIGITS if value.kind == "Time" else _DATE_DIGITS)[len(value.parts) - 1]


def boundary(value: Temporal, digits: int | None, high: bool) -> Temporal | None:
    """`lowBoundary()` / `highBoundary()` of a temporal value to `digits` (FHIRPath 2.0 §5.7 boundaries).

    The least/greatest value the partial value may stand for, at the requested precision; without an
    offset a DateTime's boundaries use the extreme offsets (+14:00 low, -12:00 high). None when `digits`
    is not a valid precision for the type.
    """
    table = _TIME_DIGITS if value.kind == "Time" else _DATE_DIGITS
    if digits is None:
        digits = 9 if value.kind == "Time" else (8 if value.kind == "Date" else 17)
    if digits not in table or (value.kind == "Date" and digits > 8):
        return None
    target = table.index(digits) + 1
    parts = list(value.parts)
    if value.kind == "DateTime" and len(parts) == 4 and target > 4:
        parts.append(0)  # an hour alone is not a FHIR time: it stands for hh:00 (suite note on T08)
    if value.kind == "Time":
        filler = (23, 59, 59, 999) if high else (0, 0, 0, 0)
        while len(parts) < target:
            parts.append(filler[len(parts)])
    else:
        while len(parts) < target:
            i = len(parts)
            if i == 2:
                parts.append(calendar.monthrange(parts[0], parts[1])[1] if high else 1)
            else:
                parts.append((0, 12, 0, 23, 59, 59, 999)[i] if high else (0, 1, 1, 0, 0, 0, 0)[i])
    tz = value.tz
    if value.kind == "DateTime" and target > 3 and tz is None:
        tz = "-12:00" if high else "+14:00"
    return type(value)(tuple(parts[:target]), tz if target > 3 else None)
