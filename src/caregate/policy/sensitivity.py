"""Sensitivity labels and roles, in plain words: what an actor's roles allow and which labelled data they see.

The decisions themselves are the policy's (policy/rules.py): withheld labels become an SQL condition on the
`_security` index (storage/sql/security_labels.py), redacted ones a step over the JSON on the way out
(interactions/redact.py). This module says the same things for `caregate access explain` and the admin API.
"""

from __future__ import annotations

from caregate.policy.actor import Actor
from caregate.policy.purpose import BREAK_GLASS
from caregate.policy.rules import WORDS, Policy

REDACTED_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
REDACTED = {"system": REDACTED_SYSTEM, "code": "REDACTED", "display": "redacted"}


def role_steps(policy: Policy, actor: Actor, type_: str, letter: str, purpose: str) -> tuple[list[str], str | None]:
    """The steps explaining the roles' part of a decision, and the denial (None when the roles allow it)."""
    codes = policy.roles_of(actor)
    if codes is None:
        return [f"Access policy ({policy.source}): a backend service acting for no user is bounded by its scopes "
                "alone."], None
    given = "" if actor.roles else " (applied to a user with no role)"
    steps = [f"Access policy ({policy.source}): role{'s' if len(codes) > 1 else ''} {', '.join(codes)}{given}."]
    denial = policy.denial(actor, type_, letter, purpose)
    if denial is not None:
        return steps, denial
    word = next(w for w, x in WORDS.items() if x == letter)
    role = policy.permitting_role(actor, type_, letter, purpose)
    steps.append(f"Permitted by the rule roles.{role}: {word} on {type_} for purpose {purpose}.")
    steps += label_steps(policy, actor, purpose)
    return steps, None


def label_steps(policy: Policy, actor: Actor, purpose: str) -> list[str]:
    sight = policy.sight(actor, purpose)
    steps = []
    withheld = [code for _system, code, *types in sight.hidden if not types]
    if withheld:
        codes = ", ".join(withheld)
        steps.append(f"Sensitivity: resources labelled {codes} are withheld (reads answer 404; searches, totals "
                     "and includes leave them out).")
    for (_system, code), elements in sight.redact:
        what = "; ".join(f"{t}: {', '.join(e)}" for t, e in elements.items())
        steps.append(f"Sensitivity: resources labelled {code} are returned without {what}, marked REDACTED "
                     "(of other types, withheld).")
    if not sight.hidden and not sight.redact:
        steps.append("Sensitivity: no label withholds or redacts anything for this request.")
    if purpose == BREAK_GLASS:
        lifted = [label.code for label in policy.labels.values() if not label.absolute]
        kept = [label.code for label in policy.labels.values() if label.absolute]
        if lifted:
            steps.append(f"Break-glass lifts the labels {', '.join(lifted)}" +
                         (f"; {', '.join(kept)} stay{'s' if len(kept) == 1 else ''} absolute." if kept else "."))
    return steps
