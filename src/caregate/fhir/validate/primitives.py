"""Checks of primitive values: the JSON type and the lexical form of each R4 primitive datatype.

The rules are those of https://hl7.org/fhir/R4/datatypes.html#primitive and json.html#primitive: numbers
and booleans are JSON numbers and booleans, everything else a string; strings are never empty; dates are
real calendar dates; a dateTime with a time carries a time zone; integers are 32-bit. Each checker returns
None when the value is fine, else a sentence saying what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

__all__ = ["PRIMITIVES", "check_primitive"]

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_DATE = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?")
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_DATETIME = re.compile(
    _YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T" + _TIME + _ZONE + r")?)?)?"
)
_INSTANT = re.compile(_YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T" + _TIME + _ZONE)
_TIME_ONLY = re.compile(_TIME)
_CODE = re.compile(r"[^\s]+(\s[^\s]+)*", re.ASCII)  # \s as in the spec's (Java) regex: ASCII only
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")
_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_WHITESPACE = re.compile(r"\s+")
_SPACE = re.compile(r"\s")
_INT32 = (-(2**31), 2**31 - 1)
_MAX_STRING = 1024 * 1024


def _real_date(text: str) -> bool:
    """The year-month-day part names a day that exists (no 2023-02-29)."""
    if len(text) < 10:
        return True
    try:
        date(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True


def _string(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a JSON string"
    if not value.strip():
        return "must not be empty or only whitespace"
    if len(value) > _MAX_STRING:
        return "is longer than 1 MB"
    return None


def _pattern(regex: re.Pattern[str], what: str, extra: Callable[[str], bool] | None = None):
    def check(value: object) -> str | None:
        if not isinstance(value, str):
            return "must be a JSON string"
        if not regex.fullmatch(value) or (extra is not None and not extra(value)):
            return f"{value!r} is not a valid {what}"
        return None

    return check


def _uri(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a JSON string"
    if not value:
        return "must not be empty"
    if _SPACE.search(value):
        return f"{value!r} is not a valid URI: it contains white space"
    if value.startswith("urn:oid:") and not _OID.fullmatch(value.split("|", 1)[0]):
        return f"{value!r} is not a valid OID URI"
    if value.startswith("urn:uuid:") and not _UUID.fullmatch(value.lower()):
        return f"{value!r} is not a valid UUID URI"
    return None


def _boolean(value: object) -> str | None:
    return None if value is True or value is False else "must be a JSON boolean (true or false)"


def _integer(low: int, high: int, what: str):
    def check(value: object) -> str | None:
        if value.__class__ is not int:
            if value.__class__ is float and value.is_integer():  # type: ignore[union-attr]
                return f"{value!r} is not a valid {what}: it has a decimal point"
            return f"must be a JSON number without a fraction ({what})"
        if not low <= value <= high:  # type: ignore[operator]
            return f"{value} is out of range for {what} ({low} to {high})"
        return None

    return check


def _decimal(value: object) -> str | None:
    if value.__class__ not in (int, float) and (
            isinstance(value, bool) or not isinstance(value, (int, float, Decimal))):
        return "must be a JSON number (decimal)"
    if value != value or value in (float("inf"), float("-inf")):
        return "is not a finite decimal"
    return None


def _base64(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a JSON string"
    if not _BASE64.fullmatch(_WHITESPACE.sub("", value)):
        return "is not valid base64 content"
    return None


def _xhtml(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a JSON string"
    text = value.lstrip()
    if not text.startswith("<div"):
        return "narrative must be a single XHTML <div> element"
    head = text[: text.find(">") + 1]
    if 'xmlns="http://www.w3.org/1999/xhtml"' not in head and "xmlns='http://www.w3.org/1999/xhtml'" not in head:
        return "the narrative <div> must be in the XHTML namespace (xmlns=\"http://www.w3.org/1999/xhtml\")"
    return None


PRIMITIVES: dict[str, Callable[[object], str | None]] = {
    "boolean": _boolean,
    "integer": _integer(*_INT32, "integer"),
    "integer64": _integer(-(2**63), 2**63 - 1, "integer64"),
    "positiveInt": _integer(1, _INT32[1], "positiveInt"),
    "unsignedInt": _integer(0, _INT32[1], "unsignedInt"),
    "decimal": _decimal,
    "string": _string,
    "markdown": _string,
    "code": _pattern(_CODE, "code"),
    "id": _pattern(_ID, "id"),
    "uri": _uri,
    "url": _uri,
    "canonical": _uri,
    "oid": _pattern(_OID, "oid (urn:oid:...)"),
    "uuid": _pattern(_UUID, "uuid (urn:uuid: and lower-case hex)"),
    "date": _pattern(_DATE, "date (YYYY, YYYY-MM or YYYY-MM-DD)", _real_date),
    "dateTime": _pattern(_DATETIME, "dateTime (a date, or a date and time with a time zone)", _real_date),
    "instant": _pattern(_INSTANT, "instant (a date and time to the second with a time zone)", _real_date),
    "time": _pattern(_TIME_ONLY, "time (hh:mm:ss)"),
    "base64Binary": _base64,
    "xhtml": _xhtml,
}


def check_primitive(type_code: str, value: object) -> str | None:
    """None if `value` is a valid JSON form of the primitive type, else what is wrong with it."""
    check = PRIMITIVES.get(type_code)
    return None if check is None else check(value)
