"""Legitimate relationship: a member of staff reaches a patient only where the record shows a reason to.

The built-in policy is the safe one: staff (a user whose own resource is a Practitioner or PractitionerRole)
see a patient's data only through a registered GP practice, a care team, an open encounter or active episode
of care at their organisation, or a referral to them (the SQL is in `caregate.storage.sql.relations`). Which
kinds count is configurable (`use_kinds`, for a policy file); all of them by default.

The requirement does not apply to backend clients (`system/` scopes bound them) or to patients (their own
compartment bounds them); break-glass (ETREAT, with its stated reason, which the audit keeps) lifts it; and
research and planning (HRESCH, HOPERAT) are bounded by the National Data Opt-out instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from caregate.policy.actor import Actor
from caregate.policy.consent import bound_by_consent
from caregate.policy.purpose import BREAK_GLASS, SECONDARY
from caregate.search.viewer import Viewer

KINDS = frozenset({"gp-registration", "care-team", "encounter", "episode-of-care", "referral"})
DESCRIPTIONS = {
    "gp-registration": "the patient is registered with them or their GP practice (Patient.generalPractitioner)",
    "care-team": "they are a member of an active CareTeam for the patient",
    "encounter": "the patient has an open Encounter at their organisation",
    "episode-of-care": "the patient has an active EpisodeOfCare managed by their organisation",
    "referral": "an active referral or order (ServiceRequest) names them or their organisation as performer",
}
_configured: frozenset[str] = KINDS


def use_kinds(kinds: Iterable[str]) -> frozenset[str]:
    """Make `kinds` the relationships that count (an empty set: staff need no relationship); returns the set
    in force before. ValueError names an unknown kind."""
    global _configured
    chosen = frozenset(kinds)
    unknown = sorted(chosen - KINDS)
    if unknown:
        raise ValueError(f"Unknown relationship kind(s) {', '.join(unknown)}; known: {', '.join(sorted(KINDS))}.")
    before, _configured = _configured, chosen
    return before


def kinds_in_force() -> frozenset[str]:
    return _configured


def needs_relationship(actor: Actor | None, purpose: str) -> bool:
    """Whether this request reaches only the patients the actor is related to."""
    if actor is None or not actor.staff or not _configured:
        return False
    return purpose != BREAK_GLASS and purpose not in SECONDARY


def viewer_of(actor: Actor | None, purpose: str, now_us: int | None = None) -> Viewer | None:
    """The viewer storage confines a staff request to: their relationships (when needed) and the patients'
    privacy Consents (caregate.policy.consent); None when neither binds the request."""
    related = needs_relationship(actor, purpose)
    consent = bound_by_consent(actor, purpose)
    if actor is None or not (related or consent):
        return None
    now = int(time.time() * 1_000_000) if now_us is None else now_us
    return Viewer((actor.fhir_user or "",), actor.org, _configured if related else frozenset(), purpose, consent,
                  now)


def why_not_needed(actor: Actor | None, purpose: str) -> str:
    """In plain words, why a request is (or is not) bound to the actor's relationships."""
    if actor is None:
        return "No user is authenticated: no relationship is needed."
    if not actor.staff:
        return "The user is not a member of staff (a patient or a backend client): no relationship is needed."
    if not _configured:
        return "The policy requires no relationship between staff and patients."
    if purpose == BREAK_GLASS:
        return "Break-glass (ETREAT) lifts the relationship requirement; the access is flagged in the audit."
    if purpose in SECONDARY:
        return f"Purpose {purpose} is bounded by the National Data Opt-out instead of a relationship."
    kinds = "; ".join(DESCRIPTIONS[k] for k in sorted(_configured))
    return f"A member of staff reaches only patients they have a relationship with: {kinds}."
