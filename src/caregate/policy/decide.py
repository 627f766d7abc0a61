"""Decisions: may this actor perform this interaction on this type, and within which bounds?

SMART scopes grant interactions per type (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
`c` create, `r` read (read, vread, instance history), `u` update (update, patch), `d` delete, `s` search
(search, type and system history). A `patient/` scope reaches only the launch patient's compartment; a `user/`
or `system/` scope granting the same interaction is not confined. Scope query constraints narrow what is
reached, as search parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from caregate.policy.actor import Actor

_LETTER = {"read": "r", "vread": "r", "history-instance": "r", "search-type": "s", "search-system": "s",
           "history-type": "s", "history-system": "s", "create": "c", "update": "u", "patch": "u", "delete": "d"}


def interaction_letter(interaction: str) -> str:
    """The SMART permission letter a FHIR interaction (http.html names) needs."""
    return _LETTER[interaction]


@dataclass(frozen=True, slots=True)
class Access:
    """The answer for one (type, interaction): allowed or not, and if so the bounds.

    `patient`: confine to that patient's compartment (None: not confined). `constraints`: when not empty,
    the resource must match at least one of these search-parameter sets (each a tuple of name/value pairs).
    """

    allowed: bool
    patient: str | None = None
    constraints: tuple[tuple[tuple[str, str], ...], ...] = ()
    reason: str = ""


def access(actor: Actor, type_: str, letter: str) -> Access:
    granting = [s for s in actor.scopes if s.covers(type_, letter)]
    if not granting:
        return Access(False, reason=f"The granted scopes do not allow '{letter}' on {type_}.")
    wide = [s for s in granting if s.context != "patient"]
    if not wide and actor.patient is None:
        return Access(False, reason="patient/ scopes need a patient in context, and this token has none.")
    chosen = wide or granting
    constraints: tuple[tuple[tuple[str, str], ...], ...] = ()
    if all(s.query for s in chosen):
        constraints = tuple(dict.fromkeys(s.query for s in chosen))
    return Access(True, None if wide else actor.patient, constraints)


def allowed_types(actor: Actor, letter: str) -> tuple[str, ...] | None:
    """The types on which `letter` is granted; None when a `*` scope grants it on every type."""
    types = []
    for s in actor.scopes:
        if letter in s.letters:
            if s.type == "*":
                return None
            types.append(s.type)
    return tuple(dict.fromkeys(types))
