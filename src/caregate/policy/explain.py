"""Why a request would be permitted or denied, in plain words, rule by rule (for `caregate access explain`).

The same rules the FHIR API applies, in the same order: the purpose of use is checked first (a known code,
the researcher role, break-glass), then the scopes for the interaction on the type, then the bounds that
narrow what is reached (a patient's compartment, scope query constraints, the National Data Opt-out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from caregate.policy.actor import Actor
from caregate.policy.decide import access, interaction_letter
from caregate.policy.purpose import DIRECT_CARE, RESEARCHER, SECONDARY, PurposeError, asserted
from caregate.policy.requests import interaction
from caregate.policy.rules import Policy
from caregate.policy.sensitivity import role_steps


@dataclass(slots=True)
class Explanation:
    allowed: bool = True
    steps: list[str] = field(default_factory=list)

    def deny(self, why: str) -> Explanation:
        self.allowed = False
        self.steps.append(f"DENIED: {why}")
        return self


def interaction_of(method: str, path: str) -> tuple[str | None, str]:
    """The resource type and FHIR interaction (http.html names) of `METHOD /fhir/...`."""
    seg = [s for s in urlsplit(path).path.removeprefix("/fhir").split("/") if s]
    return (seg[0] if seg and seg[0][:1].isupper() else None), interaction(method.upper(), seg)


def explain(actor: Actor, method: str, path: str, purpose: str | None = None,
            reason: str | None = None, policy: Policy | None = None) -> Explanation:
    out = Explanation()
    try:
        asked = asserted(purpose, reason, actor.purpose, actor.break_glass_reason)
    except PurposeError as exc:
        return out.deny(f"{exc} (answered 400)")
    out.steps.append(f"Purpose of use: {asked.code}" + (" (the default: direct care)" if purpose is None
                                                         and actor.purpose is None else "") + ".")
    if RESEARCHER in actor.roles and asked.code in DIRECT_CARE:
        return out.deny(f"the researcher role has no direct-care access, and {asked.code} is direct care "
                        "(answered 403).")
    if asked.break_glass:
        if not actor.staff:
            return out.deny("break-glass is only for members of staff linked to a Practitioner (answered 403).")
        out.steps.append(f"Break-glass by a member of staff, reason \"{asked.reason}\": permitted, and flagged in "
                         "the AuditEvent with the reason.")
    type_, interaction = interaction_of(method, path)
    if type_ is None:
        out.steps.append(f"Interaction: {interaction} across every type (each type must be allowed).")
        return out
    if interaction in ("operation", "transaction", "capabilities"):
        out.steps.append(f"Interaction: {interaction} on {type_}; an operation applies the rules of what it "
                         "reads and writes, each decided as that interaction would be.")
        return out
    out.steps.append(f"Interaction: {interaction} on {type_}.")
    decision = access(actor, type_, interaction_letter(interaction))
    if not decision.allowed:
        return out.deny(f"{decision.reason} (answered 403).")
    granted = [s.text for s in actor.scopes if s.covers(type_, interaction_letter(interaction))]
    out.steps.append(f"Permitted by the scope{'s' if len(granted) > 1 else ''} {', '.join(granted)}.")
    if policy is not None:
        steps, denial = role_steps(policy, actor, type_, interaction_letter(interaction), asked.code)
        out.steps += steps
        if denial is not None:
            return out.deny(f"{denial} (answered 403).")
    if decision.patient is not None:
        out.steps.append(f"Confined to Patient/{decision.patient}'s compartment: anything else answers as if it "
                         "did not exist.")
    for constraint in decision.constraints:
        out.steps.append("Narrowed by the scope constraint " + "&".join(f"{k}={v}" for k, v in constraint) + ".")
    if asked.code in SECONDARY:
        out.steps.append(f"National Data Opt-out: patients with an active research-scope Consent refusing "
                         f"{asked.code} are left out (reads answer 404; searches, totals, includes, chains and "
                         "history skip them).")
    else:
        out.steps.append(f"National Data Opt-out: does not apply to {asked.code}.")
    return out
