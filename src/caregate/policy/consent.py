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

from caregate.fhir.consent_rules import RESOURCE_TYPES, Rule, Term
from caregate.policy.actor import Actor
from caregate.policy.purpose import BREAK_GLASS
from caregate.search.dates import parse_range


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


def _term_holds(term: Term, refs: frozenset[tuple[str, str]], orgs: frozenset[str], purpose: str, type_: str,
                resource: dict | None, now_us: int) -> bool | None:
    """Whether a term holds for this request; None when it depends on a resource not at hand."""
    if term.dim == "actor":
        return (term.system, term.code) in refs or (term.system == "Organization" and term.code in orgs)
    if term.dim == "purpose":
        return term.code == purpose
    if term.dim == "class":
        return term.code == type_ and term.system in (None, RESOURCE_TYPES)
    if term.dim == "period":
        try:
            low = parse_range(term.low)[0] if term.low else None
            high = parse_range(term.high)[1] if term.high else None
        except ValueError:
            return False
        return (low is None or low <= now_us) and (high is None or now_us <= high)
    if term.system is not None and term.dim == "data" and term.system != type_:
        return False
    if resource is None or term.dim == "dataPeriod":
        return None
    if term.dim == "data":
        return term.code == resource.get("id")
    codings = ((resource.get("meta") or {}).get("security") or []) if term.dim == "security" else \
        ((resource.get("code") or {}).get("coding") or []) if isinstance(resource.get("code"), dict) else []
    return any(isinstance(c, dict) and c.get("code") == term.code and term.system in (None, c.get("system"))
               for c in codings)


def _rule_applies(rule: Rule, *request: object) -> bool | None:
    groups: dict[str, list[bool | None]] = {}
    for term in rule.terms:
        groups.setdefault(term.group, []).append(_term_holds(term, *request))  # type: ignore[arg-type]
    verdict: bool | None = True
    for held in groups.values():
        if True in held:
            continue
        if None in held:
            verdict = None
        else:
            return False
    return verdict


def consent_decision(rules: list[Rule], refs: frozenset[tuple[str, str]], orgs: frozenset[str], purpose: str,
                     type_: str, resource: dict | None = None, now_us: int = 0) -> tuple[str, Rule | None]:
    """What one Consent's rules decide for a resource of `type_` (or `resource` itself), as the search query
    does: ("deny", the deny rule), ("permit", None), or ("depends", the rule) when it turns on the content of
    each resource (its code, labels or date)."""
    request = (refs, orgs, purpose, type_, resource, now_us)
    depends: Rule | None = None
    for deny in (r for r in rules if r.effect == "deny"):
        applies = _rule_applies(deny, *request)
        if applies is False:
            continue
        exceptions = [_rule_applies(p, *request) for p in rules if p.effect == "permit"
                      and p.path.startswith(deny.path) and p.path != deny.path]
        if True in exceptions:
            continue
        if applies is True and None not in exceptions:
            return "deny", deny
        depends = depends or deny
    return ("depends", depends) if depends is not None else ("permit", None)


def described(rule: Rule) -> str:
    """A rule in plain words: where it sits in the Consent and what it covers."""
    where = "the implicit denial above a permit base" if rule.path == "" else \
        "the base provision" if rule.path == "/" else f"provision {rule.path.strip('/').replace('/', '.')}"
    conditions = {}
    for t in rule.terms:
        value = f"{t.system}/{t.code}" if t.dim in ("actor", "data") else t.code or f"{t.low or ''}..{t.high or ''}"
        conditions.setdefault(t.dim, []).append(str(value))
    said = "; ".join(f"{dim} {' or '.join(values)}" for dim, values in conditions.items())
    return f"{where} ({rule.effect}{': ' + said if said else ''})"
