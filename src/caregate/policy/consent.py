"""The patient's privacy Consent: who it binds, and what to say about it.

A patient records what they allow with Consent resources of scope `patient-privacy`
(https://hl7.org/fhir/R4/consent.html): nested permit and deny provisions by actor (a practitioner, their role
or their organisation), purpose of use, resource type (`class`), code, data period and security label. The
rules are flattened when the Consent is written (caregate.fhir.consent_rules) and enforced inside the search
query (caregate.storage.sql.consent), so a Consent written, changed or withdrawn counts from the next request.

They bind members of staff whatever the purpose, research included. Break-glass (ETREAT with its stated reason,
kept by the audit) goes beyond them; patients see their own record, and backend clients are bounded by their
`system/` scopes alone.
"""

from __future__ import annotations

from caregate.policy.actor import Actor
from caregate.policy.purpose import BREAK_GLASS


def bound_by_consent(actor: Actor | None, purpose: str) -> bool:
    return actor is not None and actor.staff and purpose != BREAK_GLASS


def consent_explained(actor: Actor | None, purpose: str) -> str:
    """In plain words, whether the patients' privacy Consents bound this request and how."""
    if actor is None or not actor.staff:
        return "Patients' privacy Consents bind members of staff; this user is not one."
    if purpose == BREAK_GLASS:
        return "Break-glass (ETREAT) goes beyond the patients' privacy Consents; the access is flagged in the audit."
    who = " or ".join(filter(None, [actor.fhir_user, f"organisation {actor.org}" if actor.org else None]))
    return (f"A patient's active privacy Consent (scope patient-privacy) withholds what its deny provisions cover "
            f"for {who} and purpose {purpose}, except where a permit nested inside a denial covers it; a permit "
            "base allows only what it describes.")
