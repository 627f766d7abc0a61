"""Which relationship and which Consent rule decide a member of staff's access to one patient, found in the
record itself, for explanations (`caregate access explain` and `$explain-access` give the same answer). The
search query enforces the same rules in SQL (caregate.storage.sql.relations and .consent); this module only
finds and names the deciding records.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import orjson

from caregate.fhir.consent_rules import flatten
from caregate.fhir.definitions import patient_compartment
from caregate.policy import Actor
from caregate.policy.consent import bound_by_consent, consent_decision, consent_explained, described
from caregate.policy.explain import Explanation, interaction_of
from caregate.policy.relationships import DESCRIPTIONS, kinds_in_force, needs_relationship, why_not_needed
from caregate.policy.rules import Policy
from caregate.search.registry import Registry
from caregate.search.viewer import ODS_ORGANIZATION
from caregate.storage.base import ResourceStore, Stored
from caregate.storage.sql.relations import OPEN_ENCOUNTER, ORDERS

INSTANCE = ("read", "vread", "history-instance", "update", "patch", "delete")


async def _find(store: ResourceStore, registry: Registry, type_: str, params: list[tuple[str, str]],
                count: int = 1) -> list[Stored]:
    from caregate.search.query import parse

    query = parse(type_, params, registry, strict=True)
    query.total = "none"
    return (await store.search(query, count)).items


def _refs(actor: Actor) -> list[str]:
    return [actor.fhir_user] if actor.fhir_user else []


async def _org_ids(store: ResourceStore, registry: Registry, org: str | None) -> list[str]:
    """The user's organisation as Organization ids: its id, or those carrying it as ODS code."""
    if not org:
        return []
    found = await _find(store, registry, "Organization", [("identifier", f"{ODS_ORGANIZATION}|{org}")], 20)
    return list(dict.fromkeys([org, *(s.id for s in found)]))


async def _relationship(store: ResourceStore, registry: Registry, kind: str, patient: str, people: list[str],
                        orgs: list[str]) -> Stored | None:
    """The first record giving `kind` of relationship with `patient`, if any."""
    who = ",".join(people)
    where = ",".join(f"Organization/{o}" for o in orgs)
    either = ",".join(filter(None, [who, where]))
    searches = {
        "gp-registration": ("Patient", [("_id", patient), ("general-practitioner", either)]),
        "care-team": ("CareTeam", [("subject", f"Patient/{patient}"), ("status", "active"), ("participant", who)]),
        "encounter": ("Encounter", [("subject", f"Patient/{patient}"), ("status", ",".join(OPEN_ENCOUNTER)),
                                    ("service-provider", where)]),
        "episode-of-care": ("EpisodeOfCare", [("patient", f"Patient/{patient}"), ("status", "active"),
                                              ("organization", where)]),
        "referral": ("ServiceRequest", [("subject", f"Patient/{patient}"), ("status", "active"),
                                        ("intent", ",".join(ORDERS)), ("performer", either)]),
    }
    type_, params = searches[kind]
    if any(value == "" for _name, value in params):
        return None
    found = await _find(store, registry, type_, params)
    return found[0] if found else None


async def patient_of_request(store: ResourceStore, registry: Registry, type_: str | None, path: str) -> str | None:
    """The patient a request is about: `Patient/ID`, a `patient=`/`subject=` parameter, or the patient whose
    compartment holds the named resource."""
    parts = [s for s in urlsplit(path).path.removeprefix("/fhir").split("/") if s]
    if type_ == "Patient" and len(parts) >= 2 and not parts[1].startswith("_"):
        return parts[1]
    for name, value in parse_qsl(urlsplit(path).query):
        if name in ("patient", "subject", "subject:Patient", "patient:Patient") and value:
            tail = value.rstrip("/").rpartition("/")
            if tail[0] == "" or tail[0].endswith("Patient"):
                return tail[2]
    if type_ is not None and len(parts) >= 2 and not parts[1].startswith("_"):
        for code in patient_compartment().get(type_, ()):
            found = await _find(store, registry, "Patient", [(f"_has:{type_}:{code}:_id", parts[1])])
            if found:
                return found[0].id
    return None


async def patient_steps(store: ResourceStore, registry: Registry, actor: Actor, purpose: str, type_: str | None,
                        interaction: str, path: str, kinds: frozenset[str] | None = None) -> tuple[list[str], bool]:
    """Plain-words steps naming the relationship and the Consent rules that decide this request, and whether
    they put the named resource out of reach (answered 404). `kinds`: the relationship kinds that count for
    the actor's roles (default: all those in force)."""
    kinds = kinds_in_force() if kinds is None else kinds
    related, consent = needs_relationship(actor, purpose), bound_by_consent(actor, purpose)
    steps = [] if related else [f"Relationship: {why_not_needed(actor, purpose)}"]
    if related and not kinds:
        related, steps = False, ["Relationship: the user's roles need no relationship with the patient."]
    if not (related or consent):
        return [*steps, f"Consent: {consent_explained(actor, purpose)}"], False
    patient = await patient_of_request(store, registry, type_, path)
    if patient is None:
        if related:
            steps.append(f"Relationship: {why_not_needed(actor, purpose)}")
        if consent:
            steps.append(f"Consent: {consent_explained(actor, purpose)}")
        return [*steps, "Name a patient (Patient/ID, patient= or subject=, or one of their resources) to see "
                        "which relationship and Consent rules decide."], False
    hidden = False
    orgs = await _org_ids(store, registry, actor.org)
    if related:
        found = None
        for kind in sorted(kinds):
            found = await _relationship(store, registry, kind, patient, _refs(actor), orgs)
            if found is not None:
                steps.append(f"Relationship with Patient/{patient}: {DESCRIPTIONS[kind]} ({found.type}/{found.id}).")
                break
        if found is None:
            hidden = True
            steps.append(f"No relationship with Patient/{patient} (none of: {', '.join(sorted(kinds))}): "
                         "their data answers 404 as if absent, and searches leave it out.")
    if consent:
        resource = None
        parts = [s for s in urlsplit(path).path.removeprefix("/fhir").split("/") if s]
        if type_ is not None and interaction in INSTANCE and len(parts) >= 2:
            stored = await store.read(type_, parts[1])
            resource = orjson.loads(stored.json) if stored is not None and not stored.deleted else None
        consents = await _find(store, registry, "Consent", [("patient", f"Patient/{patient}"), ("status", "active"),
                                                             ("scope", "patient-privacy")], 50)
        refs = frozenset(tuple(r.split("/", 1)) for r in _refs(actor))  # type: ignore[misc]
        now_us = int(time.time() * 1_000_000)
        for c in consents:
            verdict, rule = consent_decision(flatten(orjson.loads(c.json)), refs, frozenset(orgs), purpose,
                                             type_ or "Patient", resource, now_us)
            what = f"{type_ or 'their data'}" if resource is None else f"{type_}/{resource.get('id')}"
            if verdict == "deny" and rule is not None:
                hidden = True
                steps.append(f"Consent/{c.id} withholds {what} from this user for {purpose}: {described(rule)}.")
            elif verdict == "depends" and rule is not None:
                steps.append(f"Consent/{c.id} withholds those {what} its {described(rule)} covers, resource by "
                             "resource.")
            else:
                steps.append(f"Consent/{c.id} does not withhold {what} from this user for {purpose}.")
        if not consents:
            steps.append(f"Consent: Patient/{patient} has no active privacy Consent.")
    return steps, hidden and interaction in INSTANCE


async def record_steps(store: ResourceStore, registry: Registry, actor: Actor, method: str, path: str,
                       purpose: str | None, policy: Policy | None, result: Explanation) -> Explanation:
    """Add to `result`, which the policy's rules permit (policy.explain), the relationship and Consent records
    that decide `METHOD path` for the patient it names, and deny it when those put it out of reach (404)."""
    type_, interaction = interaction_of(method, path)
    kinds = policy.relationship_kinds(actor, kinds_in_force()) if policy is not None and policy.roles_of(actor) \
        else kinds_in_force()
    steps, hidden = await patient_steps(store, registry, actor, purpose or "TREAT", type_, interaction, path, kinds)
    result.steps += steps
    if hidden:
        result.deny("the resource is out of this user's reach (answered 404, as if it did not exist).")
    return result
