"""Dates and times for synthetic records, in UK civil time.

FHIR ``dateTime`` and ``instant`` values that carry a time SHALL carry a timezone offset
(http://hl7.org/fhir/R4/datatypes.html#dateTime). Clinical events happen at local clock times, so the
generator picks a local time (a surgery at 09:10, an A&E arrival at 23:40) and writes it with the UK
offset in force on that day: +01:00 during British Summer Time, +00:00 otherwise.

BST runs from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October
(Summer Time Order 2002, following EU Directive 2000/84/EC). The same rule is applied to every year
so that output never depends on the host's timezone database. Events start between 07:00 and 23:59
local time, but one that starts late can end after midnight, on the very night the clocks change: the
offset is therefore that of the local moment itself (clocks go forward at 01:00 local and back at
02:00 local; the repeated hour is read as its first, summer-time occurrence).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from functools import lru_cache

DEFAULT_NOW = date(2026, 1, 1)
"""The date histories run up to unless the caller chooses another (never the wall clock)."""


def _last_sunday(year: int, month: int) -> date:
    """The last Sunday of ``month`` (March or October, both 31 days long)."""
    last = date(year, month, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


@lru_cache(maxsize=256)
def _summer_time(year: int) -> tuple[date, date]:
    """First day of BST and first day back on GMT in ``year``."""
    return _last_sunday(year, 3), _last_sunday(year, 10)


def utc_offset(when: date | datetime) -> str:
    """The UK offset at the local moment ``when`` ("+01:00" in British Summer Time, else "+00:00"); a bare
    date stands for its daytime."""
    starts, ends = _summer_time(when.year)
    if not isinstance(when, datetime):
        return "+01:00" if starts <= when < ends else "+00:00"
    return "+01:00" if at(starts, 1) <= when < at(ends, 2) else "+00:00"


def stamp(moment: datetime) -> str:
    """A FHIR dateTime for the naive local ``moment``, with the UK offset and whole seconds."""
    return moment.replace(microsecond=0).isoformat() + utc_offset(moment)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """The naive local datetime ``hour:minute`` on ``day``."""
    return datetime(day.year, day.month, day.day, hour, minute)


def working_day(day: date, last: date) -> date:
    """``day`` if it falls Monday to Friday; otherwise the next Monday, or the Friday before if that
    Monday would be after ``last``. GP surgeries and clinics see planned patients on weekdays."""
    if day.weekday() < 5:
        return day
    monday = day + timedelta(days=7 - day.weekday())
    return monday if monday <= last else day - timedelta(days=day.weekday() - 4)


def clinic_time(rng: random.Random, day: date) -> datetime:
    """A surgery appointment on ``day``: 08:30 to 17:50 in ten-minute slots."""
    slot = rng.randrange(57)  # 57 ten-minute slots from 08:30 to 17:50
    return at(day, 8, 30) + timedelta(minutes=10 * slot)


def any_time(rng: random.Random, day: date) -> datetime:
    """An unscheduled time on ``day`` (A&E arrivals, admissions): 07:00 to 23:59."""
    return at(day, 7) + timedelta(minutes=rng.randrange(17 * 60))


def add_years(day: date, years: int) -> date:
    """``day`` moved by whole years; 29 February becomes 28 February in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age_on(birth: date, day: date) -> int:
    """Age in completed years on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def random_day(rng: random.Random, first: date, last: date) -> date:
    """A uniformly random day in the closed range ``first``..``last`` (``first`` if the range is empty)."""
    span = (last - first).days
    return first if span <= 0 else first + timedelta(days=rng.randrange(span + 1))
