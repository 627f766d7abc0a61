"""A patient's privacy Consent flattened into rules, so access can be decided inside a database query.

https://hl7.org/fhir/R4/consent.html: a Consent's `provision` states a base rule (`type` permit or deny, for
actions meeting its conditions) and nested provisions are exceptions to it, which may nest further. Each
provision becomes a `Rule` that carries its own conditions and those of every provision it is nested in (an
exception applies only within its parent), and its `path` in the tree, so that a rule's exceptions are the
rules whose path extends it. The decision for a resource and a request is then:

- a deny rule that applies excludes the resource, unless a permit rule nested inside it also applies (an
  exception to the denial); where a permit and a deny apply at the same depth, deny wins;
- a permit base (`provision.type` permit at the root) allows only what it describes: a rule denying
  everything stands above it, with the base as its exception, so what the base does not cover is denied.

Conditions within one element are alternatives (any actor listed, any class listed); different elements and
the levels of nesting must all hold. Only Consents in force (`status` active) whose scope is
`patient-privacy` (http://terminology.hl7.org/CodeSystem/consentscope) give rules; a National Data Opt-out
(scope `research`) is read separately. A provision whose `action` names neither `access` nor `use` does not
govern reading the record, so it and its exceptions give no rules.
"""

from __future__ import annotations

from dataclasses import dataclass

CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
PRIVACY = "patient-privacy"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
READING_ACTIONS = frozenset({"access", "use"})


@dataclass(frozen=True, slots=True)
class Term:
    """One acceptable value of one condition. `group` names the condition (its nesting level and element):
    a rule applies when every one of its groups has a matching term. `dim` says what is compared: `actor`,
    `purpose`, `class`, `code`, `security`, `data` (system: a type, code: an id), `dataPeriod` or `period`
    (`low`/`high`: FHIR date-times, None when open)."""

    group: str
    dim: str
    system: str | None = None
    code: str | None = None
    low: str | None = None
    high: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    patient: str
    path: str  # "" for the implicit denial above a permit base, "/" for the base, "/1/" for its first exception
    effect: str  # permit | deny
    terms: tuple[Term, ...] = ()


def in_force(consent: dict) -> bool:
    """A privacy Consent currently agreed: status active and scope patient-privacy."""
    if consent.get("status") != "active":
        return False
    codings = (consent.get("scope") or {}).get("coding") or []
    return any(isinstance(c, dict) and c.get("code") == PRIVACY and c.get("system") in (None, CONSENT_SCOPE)
               for c in codings)


def patient_of(consent: dict) -> str | None:
    ref = (consent.get("patient") or {}).get("reference")
    if not isinstance(ref, str):
        return None
    type_, _, id_ = ref.rstrip("/").rpartition("/")
    return id_ if type_.endswith("Patient") and id_ else None


def flatten(consent: dict) -> list[Rule]:
    """The rules of a Consent in force (none otherwise, or when it names no patient)."""
    patient = patient_of(consent)
    root = consent.get("provision")
    if patient is None or not in_force(consent) or not isinstance(root, dict):
        return []
    rules: list[Rule] = []
    if root.get("type") == "permit":
        rules.append(Rule(patient, "", "deny"))
    _walk(patient, root, "/", (), rules)
    return rules


def _walk(patient: str, provision: dict, path: str, inherited: tuple[Term, ...], rules: list[Rule]) -> None:
    actions = _codings(provision.get("action"))
    if actions and not {code for _s, code in actions} & READING_ACTIONS:
        return
    terms = inherited + _terms(provision, path)
    if provision.get("type") in ("permit", "deny"):
        rules.append(Rule(patient, path, provision["type"], terms))
    nested = provision.get("provision")
    for i, child in enumerate(nested if isinstance(nested, list) else [], start=1):
        if isinstance(child, dict):
            _walk(patient, child, f"{path}{i}/", terms, rules)


def _terms(provision: dict, path: str) -> tuple[Term, ...]:
    out: list[Term] = []
    for actor in provision.get("actor") or []:
        ref = (actor.get("reference") or {}).get("reference") if isinstance(actor, dict) else None
        type_, _, id_ = (ref or "").rstrip("/").rpartition("/")
        type_ = type_.rpartition("/")[2]
        # an actor given only by role, or not by a literal reference, names no one this server can match
        out.append(Term(f"{path}actor", "actor", type_ or None, id_ or None))
    for system, code in _codings(provision.get("purpose"), direct=True):
        out.append(Term(f"{path}purpose", "purpose", system, code))
    for system, code in _codings(provision.get("class"), direct=True):
        out.append(Term(f"{path}class", "class", system, code))
    for concept in provision.get("code") or []:
        for system, code in _codings(concept):
            out.append(Term(f"{path}code", "code", system, code))
    for system, code in _codings(provision.get("securityLabel"), direct=True):
        out.append(Term(f"{path}security", "security", system, code))
    for item in provision.get("data") or []:
        ref = ((item or {}).get("reference") or {}).get("reference") if isinstance(item, dict) else None
        type_, _, id_ = (ref or "").rstrip("/").rpartition("/")
        out.append(Term(f"{path}data", "data", type_.rpartition("/")[2] or None, id_ or None))
    for element in ("dataPeriod", "period"):
        period = provision.get(element)
        if isinstance(period, dict) and (period.get("start") or period.get("end")):
            out.append(Term(f"{path}{element}", element, low=period.get("start"), high=period.get("end")))
    return tuple(out)


def _codings(value: object, direct: bool = False) -> list[tuple[str | None, str]]:
    """(system, code) pairs of a list of Codings (`direct`) or of one CodeableConcept / list of them."""
    items = value if isinstance(value, list) else [value] if value else []
    out = []
    for item in items:
        codings = [item] if direct else (item or {}).get("coding") or [] if isinstance(item, dict) else []
        for c in codings:
            if isinstance(c, dict) and isinstance(c.get("code"), str):
                out.append((c.get("system"), c["code"]))
    return out
