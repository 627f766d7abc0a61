"""Conditional references in load files: finding them cheaply and the criteria the loader resolves itself.

A conditional reference is a search in place of an id, `Practitioner?identifier=http://hl7.org/fhir/sid/
us-npi|9999974592` (https://hl7.org/fhir/R4/http.html#trules). Synthea writes its references to
practitioners, organizations and locations this way, and its bulk exports keep them, so the targets may be
in any file of the load, or already in the store.

The first pass only needs the distinct reference strings, so it runs a bytes regex over the raw lines
instead of parsing JSON. The criteria the loader can match against the files being loaded are one
`identifier` token, `system|value`, `value` or `|value` (search.html#token); any other criteria are left
for the store to answer, through the ordinary search.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import orjson

# `"reference": "Type?..."`, the string body kept raw (JSON escapes included) and decoded afterwards.
_CONDITIONAL = re.compile(rb'"reference"\s*:\s*"([A-Z][A-Za-z]*\?(?:[^"\\]|\\.)*)"')

# ("sv", system, value): `system|value`; ("v", value): `value`, any system; ("nv", value): `|value`.
IdentifierKey = tuple[str, ...]


def has_conditional(raw: bytes) -> bool:
    return _CONDITIONAL.search(raw) is not None


def decode(body: bytes) -> str | None:
    """The reference a matched JSON string body stands for (JSON escapes undone); None if malformed."""
    try:
        return orjson.loads(b'"' + body + b'"') if b"\\" in body else body.decode()
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return None  # the record fails its own parse later


def scan(raw: bytes, into: set[str]) -> None:
    """Add the conditional references written in `raw` (a line or a whole document) to `into`."""
    for match in _CONDITIONAL.finditer(raw):
        ref = decode(match.group(1))
        if ref is not None:
            into.add(ref)


def substitute(raw: bytes, replace: Callable[[str], str | None]) -> bytes:
    """`raw` with each conditional reference for which `replace` gives a new value rewritten in place.

    Rewriting the bytes before parsing costs one regex pass, where rewriting the parsed resource means
    walking every element of it in Python; the regex only matches `"reference"` keys (a quote inside a
    JSON string is escaped, so text cannot match), the keys `rewrite_references` would change."""

    def one(match: re.Match[bytes]) -> bytes:
        ref = decode(match.group(1))
        new = replace(ref) if ref is not None else None
        return match.group(0) if new is None else b'"reference":' + orjson.dumps(new)

    return _CONDITIONAL.sub(one, raw)


@dataclass(frozen=True, slots=True)
class Criteria:
    """A conditional reference taken apart: the target type and, when the loader can match it against
    the loaded files itself, the identifier key it looks for."""

    ref: str
    type: str
    params: list[tuple[str, str]]
    key: IdentifierKey | None


def parse_criteria(ref: str) -> Criteria:
    type_, _, query = ref.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    return Criteria(ref, type_, params, _identifier_key(params))


def _identifier_key(params: list[tuple[str, str]]) -> IdentifierKey | None:
    if len(params) != 1 or params[0][0] != "identifier":
        return None
    value = params[0][1]
    if not value or "," in value or "\\" in value:
        return None  # OR lists and escapes go to the store's own token parser
    system, bar, code = value.partition("|")
    if not bar:
        return ("v", value)
    if not code or "|" in code:
        return None  # `system|` (any code in a system) is a search, not an identity
    return ("nv", code) if not system else ("sv", system, code)


def identifier_keys(resource: dict, wanted: set[IdentifierKey]) -> Iterable[IdentifierKey]:
    """The keys in `wanted` that one of the resource's identifiers satisfies."""
    idents = resource.get("identifier")
    if isinstance(idents, dict):  # a few R4 types have a single Identifier
        idents = [idents]
    if not isinstance(idents, list):
        return
    for ident in idents:
        if not isinstance(ident, dict):
            continue
        value, system = ident.get("value"), ident.get("system")
        if not isinstance(value, str):
            continue
        candidates: list[IdentifierKey] = [("v", value)]
        if isinstance(system, str) and system:
            candidates.append(("sv", system, value))
        else:
            candidates.append(("nv", value))
        for key in candidates:
            if key in wanted:
                yield key


def type_markers(types: Iterable[str]) -> list[bytes]:
    """Byte strings one of which a raw record must contain to hold a resource of one of `types`: a cheap
    filter that spares the index pass from parsing records that cannot matter."""
    return [b'"' + t.encode() + b'"' for t in sorted(types)]
