"""SMART clinical scopes, v2 and v1 syntax (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

A clinical scope is `context/Type.permissions[?query]`: context is `patient`, `user` or `system`; Type is a
resource type or `*`; permissions are v2 letters `c r u d s` (in that order, each at most once) or the v1
words `read` (= `rs`), `write` (= `cud`) and `*` (= `cruds`). Other scopes (`openid`, `launch/patient`,
`offline_access`...) are not clinical and parse to None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from caregate.fhir.definitions import is_resource_type

CONTEXTS = ("patient", "user", "system")
LETTERS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z*]+)(?:\?(.*))?$")


class ScopeError(ValueError):
    """A scope that looks clinical but is malformed (unknown type, letters out of order...)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """One clinical scope. `query` holds the v2 search constraint (`?category=laboratory`) as pairs."""

    context: str
    type: str  # a resource type or "*"
    letters: frozenset[str]
    query: tuple[tuple[str, str], ...] = ()
    text: str = ""

    def covers(self, type_: str, letter: str) -> bool:
        return letter in self.letters and self.type in ("*", type_)

    def within(self, other: Scope) -> bool:
        """True when everything this scope grants, `other` grants too (used to narrow requests)."""
        return (self.context == other.context and other.type in ("*", self.type)
                and self.letters <= other.letters and (not other.query or other.query == self.query))


def parse_scope(text: str) -> Scope | None:
    """The clinical scope `text` names, None for a non-clinical scope; ScopeError when malformed."""
    m = _SCOPE.match(text)
    if m is None:
        if text.split("/", 1)[0] in CONTEXTS and "/" in text and not text.startswith("patient/$"):
            raise ScopeError(f"'{text}' is not a SMART scope (context/Type.permissions).")
        return None
    context, type_, perms, query = m.groups()
    if type_ != "*" and not is_resource_type(type_):
        raise ScopeError(f"'{text}' names '{type_}', which is not a FHIR R4 resource type.")
    if perms in _V1:
        if query is not None:
            raise ScopeError(f"'{text}': query constraints need the v2 permission letters.")
        letters = _V1[perms]
    else:
        positions = [LETTERS.find(ch) for ch in perms]
        if -1 in positions or positions != sorted(set(positions)):
            raise ScopeError(f"'{text}': permissions are the letters c, r, u, d, s in that order.")
        letters = perms
    pairs: tuple[tuple[str, str], ...] = ()
    if query is not None:
        pairs = tuple(parse_qsl(query, keep_blank_values=True))
        if not pairs or any(not k for k, _ in pairs):
            raise ScopeError(f"'{text}': the query constraint is empty or malformed.")
    return Scope(context, type_, frozenset(letters), pairs, text)


def parse_scopes(text: str) -> tuple[list[Scope], list[str]]:
    """Split a space-separated scope string into clinical scopes and the other (non-clinical) scopes."""
    clinical: list[Scope] = []
    other: list[str] = []
    for word in text.split():
        scope = parse_scope(word)
        if scope is None:
            other.append(word)
        else:
            clinical.append(scope)
    return clinical, other
