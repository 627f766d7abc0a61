"""String functions (http://hl7.org/fhirpath/N1/#string-manipulation, §5.6).

They apply to a single String (FHIR string-like primitives included) and return empty for an empty input
or argument; any other input type is an error (the suite's `Appointment.identifier.startsWith('rand')`).
Regular expressions follow N1's PCRE-like syntax with single-line mode, so `.` matches a newline, and
`$1` in a replacement refers to a group.
"""

from __future__ import annotations

import re
from functools import lru_cache

from caregate.fhir.fhirpath.errors import FhirPathEvaluationError
from caregate.fhir.fhirpath.runtime import Env, function
from caregate.fhir.fhirpath.values import single, to_system, type_of

__all__: list[str] = []

_GROUP_RE = re.compile(r"\$(\d+)")


def _string(items: list, what: str) -> str | None:
    if not items:
        return None
    value = to_system(single(items, what))
    if value is None:
        return None
    if value.__class__ is not str:
        raise FhirPathEvaluationError(f"{what} needs a String, got {type_of(value)}")
    return value


def _integer(items: list, what: str) -> int | None:
    if not items:
        return None
    value = to_system(single(items, what))
    if value.__class__ is not int:
        raise FhirPathEvaluationError(f"{what} needs an Integer argument")
    return value


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as e:
        raise FhirPathEvaluationError(f"invalid regular expression {pattern!r}: {e}") from None


@function("indexOf", 1)
def _index_of(env: Env, items: list, substring: list) -> list:
    s, sub = _string(items, "indexOf()"), _string(substring, "indexOf()")
    return [] if s is None or sub is None else [s.find(sub)]


@function("substring", 1, 2)
def _substring(env: Env, items: list, start: list, length: list | None = None) -> list:
    s = _string(items, "substring()")
    begin = _integer(start, "substring()")
    if s is None or begin is None or begin < 0 or begin >= len(s):
        return []
    count = None if length is None else _integer(length, "substring()")
    if count is None:
        return [s[begin:]]
    return [s[begin : begin + max(count, 0)]]


def _predicate(name: str, test: object) -> None:
    def impl(env: Env, items: list, arg: list) -> list:
        s, other = _string(items, f"{name}()"), _string(arg, f"{name}()")
        return [] if s is None or other is None else [test(s, other)]  # type: ignore[operator]

    function(name, 1)(impl)


_predicate("startsWith", str.startswith)
_predicate("endsWith", str.endswith)
_predicate("contains", lambda s, sub: sub in s)
_predicate("matches", lambda s, pattern: _regex(pattern).search(s) is not None)
_predicate("matchesFull", lambda s, pattern: _regex(pattern).fullmatch(s) is not None)


@function("upper")
def _upper(env: Env, items: list) -> list:
    s = _string(items, "upper()")
    return [] if s is None else [s.upper()]


@function("lower")
def _lower(env: Env, items: list) -> list:
    s = _string(items, "lower()")
    return [] if s is None else [s.lower()]


@function("replace", 2)
def _replace(env: Env, items: list, pattern: list, substitution: list) -> list:
    s, old, new = (_string(items, "replace()"), _string(pattern, "replace()"),
                   _string(substitution, "replace()"))
    return [] if s is None or old is None or new is None else [s.replace(old, new)]


@function("replaceMatches", 2)
def _replace_matches(env: Env, items: list, regex: list, substitution: list) -> list:
    s, pattern, new = (_string(items, "replaceMatches()"), _string(regex, "replaceMatches()"),
                       _string(substitution, "replaceMatches()"))
    if s is None or pattern is None or new is None:
        return []
    if pattern == "":
        return [s]

    def expand(m: re.Match[str]) -> str:
        def group(g: re.Match[str]) -> str:
            k = int(g.group(1))
            return (m.group(k) or "") if k <= m.re.groups else g.group(0)

        return _GROUP_RE.sub(group, new)

    return [_regex(pattern).sub(expand, s)]


@function("length")
def _length(env: Env, items: list) -> list:
    s = _string(items, "length()")
    return [] if s is None else [len(s)]


@function("toChars")
def _to_chars(env: Env, items: list) -> list:
    s = _string(items, "toChars()")
    return [] if s is None else list(s)
