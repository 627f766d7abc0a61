"""The party behind a request, as the resource server sees it after validating a token."""

from __future__ import annotations

from dataclasses import dataclass, field

from caregate.policy.scopes import Scope, parse_scopes


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks (subject), through which client, with which granted scopes and launch context.

    `patient` is the launch patient (SMART `patient` context): `patient/` scopes reach only that patient's
    compartment. `fhir_user` is the user's own resource (`Patient/123`, `Practitioner/9`) when known.
    """

    subject: str
    client_id: str
    scopes: tuple[Scope, ...] = ()
    patient: str | None = None
    fhir_user: str | None = None
    other_scopes: tuple[str, ...] = field(default=())
    purpose: str | None = None  # the token's `purpose_of_use` claim, binding every request made with it
    break_glass_reason: str | None = None  # the token's `break_glass_reason` claim (with purpose ETREAT)
    roles: tuple[str, ...] = ()  # the user's role codes (national RBAC job roles, `researcher`, `admin`)
    org: str | None = None  # a member of staff's organisation (ODS code or Organization id)

    @property
    def staff(self) -> bool:
        """A user acting as a member of staff (their own resource is a Practitioner or PractitionerRole)."""
        return (self.fhir_user or "").split("/")[-2:-1] in (["Practitioner"], ["PractitionerRole"])

    @classmethod
    def from_scope_string(cls, subject: str, client_id: str, scope: str, *, patient: str | None = None,
                          fhir_user: str | None = None, purpose: str | None = None,
                          break_glass_reason: str | None = None, roles: tuple[str, ...] = (),
                          org: str | None = None) -> Actor:
        clinical, other = parse_scopes(scope)
        return cls(subject, client_id, tuple(clinical), patient, fhir_user, tuple(other), purpose, break_glass_reason,
                   roles, org)

    @property
    def scope_string(self) -> str:
        return " ".join([*(s.text for s in self.scopes), *self.other_scopes])
