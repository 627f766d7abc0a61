"""FHIR date, dateTime and instant values as inclusive ranges of integer microseconds since the Unix epoch.

Search compares *ranges*, not points: "the date parameter format is yyyy-mm-ddThh:mm:ss.ssss[Z|(+|-)hh:mm]
... the precision of the value implies a range" (https://hl7.org/fhir/R4/search.html#date). `2020` is the
whole year, `2020-03` the month, `2020-03-04T10:00` that minute. Both the indexer and the query parser use
`parse_range` so stored values and search values agree exactly.

Datatype formats: https://hl7.org/fhir/R4/datatypes.html#date, #dateTime and #instant. Values with a time
but no timezone are taken as UTC, and so are dates (the specification leaves their zone to the server).
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["MAX_US", "MIN_US", "format_instant", "parse_instant", "parse_range"]

_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_PATTERN = re.compile(
    r"(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?"
    r")?)?)?"
)


def _day_us(year: int, month: int, day: int) -> int:
    return (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * _US_PER_DAY


MIN_US: int = _day_us(1, 1, 1)
"""0001-01-01T00:00:00Z: the open start of a Period without `start` (datatypes.html#Period)."""

MAX_US: int = _day_us(9999, 12, 31) + _US_PER_DAY - 1
"""9999-12-31T23:59:59.999999Z: the open end of a Period without `end`."""


def _month_end(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _offset_us(tz: str | None, text: str) -> int:
    if tz is None or tz == "Z":
        return 0
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError(f"'{text}' has an invalid timezone offset '{tz}'")
    offset = (hours * 3600 + minutes * 60) * _US_PER_SECOND
    return -offset if tz[0] == "-" else offset


def parse_range(value: str) -> tuple[int, int]:
    """Return the inclusive [low, high] microsecond range that a FHIR date/dateTime/instant denotes.

    Raises ValueError, naming the value, for anything that is not a valid date at some precision.
    """
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str):
        raise ValueError(f"a date must be text, not {type(value).__name__}")
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(
            f"'{value}' is not a valid date (expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss])"
        )
    year = int(match["year"])
    if year < 1:
        raise ValueError(f"'{value}' has year 0000, which is not a valid date")
    month = int(match["month"]) if match["month"] else None
    day = int(match["day"]) if match["day"] else None
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"'{value}' has an invalid month")
    try:
        if month is None:
            low = _day_us(year, 1, 1)
            high = _day_us(year + 1, 1, 1) - 1 if year < 9999 else MAX_US
            return low, high
        if day is None:
            low = _day_us(year, month, 1)
            end_year, end_month = _month_end(year, month)
            high = _day_us(end_year, end_month, 1) - 1 if end_year <= 9999 else MAX_US
            return low, high
        low = _day_us(year, month, day)
    except ValueError:
        raise ValueError(f"'{value}' is not a valid calendar date") from None
    if match["hour"] is None:
        return low, low + _US_PER_DAY - 1
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"]) if match["second"] else None
    if hour > 23 or minute > 59 or (second is not None and second > 60):
        raise ValueError(f"'{value}' has an invalid time of day")
    low += (hour * 3600 + minute * 60) * _US_PER_SECOND
    if second is None:
        width = 60 * _US_PER_SECOND
    else:
        low += second * _US_PER_SECOND
        fraction = match["fraction"]
        if fraction is None:
            width = _US_PER_SECOND
        else:
            digits = fraction[:6]
            low += int(digits.ljust(6, "0"))
            width = 10 ** (6 - len(digits))
    low -= _offset_us(match["tz"], value)
    return low, low + width - 1


def parse_instant(value: str) -> int:
    """The first microsecond of a date/dateTime/instant: a point in time for ordering (`_sort`)."""
    return parse_range(value)[0]


def format_instant(us: int) -> str:
    """Format microseconds since the epoch as a FHIR instant in UTC (datatypes.html#instant).

    Milliseconds are written when they are exact, else microseconds, so `parse_range` reads back the same
    first microsecond.
    """
    if not MIN_US <= us <= MAX_US:
        raise ValueError(f"{us} microseconds is outside the years 0001 to 9999")
    days, rest = divmod(us, _US_PER_DAY)
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    seconds, micros = divmod(rest, _US_PER_SECOND)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    fraction = f"{micros // 1000:03d}" if micros % 1000 == 0 else f"{micros:06d}"
    return f"{day.isoformat()}T{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction}Z"
