"""The purpose of use of one FHIR request, from its headers and token (policy/purpose.py decides what is valid).

Refusals are OperationOutcomes naming the header at fault: 400 for a purpose that is not a v3 PurposeOfUse code
or break-glass without a reason, 403 for break-glass by someone who is not a member of staff
and for direct care asked by a researcher.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from caregate.errors import FhirError
from caregate.policy import Actor
from caregate.policy.purpose import DIRECT_CARE, RESEARCHER, Purpose, PurposeError, asserted

PURPOSE_HEADER = "x-purpose-of-use"
REASON_HEADER = "x-break-glass-reason"


def purpose_of(headers: Headers, actor: Actor | None) -> Purpose:
    """The request's purpose; FhirError when it is unknown, incomplete or not the actor's to assert."""
    try:
        purpose = asserted(headers.get(PURPOSE_HEADER), headers.get(REASON_HEADER),
                           actor.purpose if actor else None, actor.break_glass_reason if actor else None)
    except PurposeError as exc:
        raise FhirError("incorrect", str(exc), (f"http.{exc.where}",), code="value") from None
    if actor is not None and RESEARCHER in actor.roles and purpose.code in DIRECT_CARE:
        raise FhirError("forbidden", f"The researcher role has no direct-care access (purpose {purpose.code}); "
                                     "assert the research purpose with X-Purpose-Of-Use: HRESCH.",
                        ("http.X-Purpose-Of-Use",))
    if purpose.break_glass and actor is not None and not actor.staff:
        raise FhirError("forbidden", "Break-glass (purpose ETREAT) is for members of staff signed in as a "
                                     "Practitioner.", ("http.X-Purpose-Of-Use",))
    return purpose
