"""The member of staff a query is answered for, as plain data the storage layer turns into SQL.

Policy decides whether a request is bound by the patient's relationships with its user and by the patients'
Consents; storage only needs to know who the user is (their own resources and organisation), which kinds of
relationship count, and the purpose of use, to confine the one search query accordingly.
"""

from __future__ import annotations

from dataclasses import dataclass

ODS_ORGANIZATION = "https://fhir.nhs.uk/Id/ods-organization-code"


@dataclass(frozen=True, slots=True)
class Viewer:
    """`refs`: the user's own resources (`Practitioner/9`, `PractitionerRole/4`); `org`: their organisation, an
    Organization id or its ODS code; `kinds`: the relationship kinds that give access to a patient (empty: no
    relationship is needed); `purpose`: the request's v3 PurposeOfUse code; `consent`: whether the patients'
    privacy Consents apply; `now_us`: the request's time (microseconds since 1970), for rules with a period."""

    refs: tuple[str, ...]
    org: str | None = None
    kinds: frozenset[str] = frozenset()
    purpose: str = "TREAT"
    consent: bool = False
    now_us: int = 0
