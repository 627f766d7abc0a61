"""The ukcore suite: what the server returns is valid FHIR with valid NHS numbers and SNOMED CT codes.

Resources are checked with caregate's validator (`caregate.fhir.validate`: the R4 base definitions with the UK
identifier rules); the profiles' own constraints beyond the base are not yet part of it, and the tests say so.
"""

from __future__ import annotations

from typing import Any

from caregate.check.client import body_json
from caregate.check.context import CheckContext
from caregate.check.model import Skipped, check, skip
from caregate.check.registry import test
from caregate.check.samples import TEMPLATES, UK_CORE_TYPES
from caregate.check.snomed import SYSTEM as SNOMED
from caregate.check.snomed import concept_id_problem
from caregate.fhir import nhs_number

UKCORE = "https://simplifier.net/hl7fhirukcorer4"
NHS_NUMBER = "https://digital.nhs.uk/services/nhs-number"
# Elements UK Core binds to SNOMED CT value sets (dm+d medicines and vaccines are SNOMED CT too).
SNOMED_ELEMENTS = {
    "Condition": "code", "Procedure": "code", "AllergyIntolerance": "code", "Immunization": "vaccineCode",
    "MedicationRequest": "medicationCodeableConcept", "Medication": "code", "MedicationStatement":
    "medicationCodeableConcept", "FamilyMemberHistory": "condition",
}


def _returned(ctx: CheckContext, type_: str, limit: int = 20) -> list[dict[str, Any]]:
    """Resources of `type_` the server gives back: the one tested with, then up to `limit` it finds."""
    out: dict[str, dict[str, Any]] = {}
    try:
        sample = ctx.sample(type_)
        got = body_json(ctx.client.get(f"{type_}/{sample['id']}"))
        if isinstance(got, dict) and got.get("resourceType") == type_:
            out[got["id"]] = got
    except Skipped:
        pass
    if ctx.cap.supports(type_, "search-type"):
        bundle = body_json(ctx.client.get(type_, params={"_count": str(limit)})) or {}
        for e in bundle.get("entry") or []:
            r = e.get("resource") or {}
            if r.get("resourceType") == type_ and r.get("id"):
                out.setdefault(r["id"], r)
    return list(out.values())


def _validator():
    try:
        from caregate.fhir.validate import validate
    except ImportError:
        return None
    return validate


def _structural(resource: dict[str, Any]) -> list[str]:
    """Unknown elements against the R4 element model, when the full validator is not installed."""
    from caregate.fhir.definitions import element_types

    problems: list[str] = []

    def walk(value: Any, type_name: str, path: str) -> None:
        kids = element_types(type_name)
        if kids is None or not isinstance(value, dict):
            return
        for key, child in value.items():
            name = key.lstrip("_")
            if name in ("id", "extension", "modifierExtension", "resourceType", "fhir_comments"):
                continue
            types = kids.get(name) or next((t for k, t in kids.items() if k.endswith("[x]")
                                            and name.startswith(k[:-3])), None)
            if types is None:
                problems.append(f"{path}.{name} is not an element of {type_name}")
                continue
            owner = types[0] if types[0][0].isupper() else None
            for item in child if isinstance(child, list) else [child]:
                if owner and not name.startswith("contained"):
                    walk(item, owner, f"{path}.{name}")

    walk(resource, resource.get("resourceType", ""), resource.get("resourceType", ""))
    return problems


def _errors(resource: dict[str, Any]) -> list[str]:
    validate = _validator()
    if validate is None:
        return _structural(resource)
    return [f"{', '.join(i.expression)}: {i.diagnostics}" for i in validate(resource)
            if i.severity in ("error", "fatal")]


def _valid_test(type_: str):
    def run(ctx: CheckContext) -> str:
        if not ctx.cap.interactions(type_):
            skip(f"{type_} is not declared")
        resources = _returned(ctx, type_)
        if not resources:
            skip(f"no {type_} returned to check")
        bad = []
        for r in resources:
            errors = _errors(r)
            if errors:
                bad.append(f"{type_}/{r.get('id')}: {'; '.join(errors[:3])}")
        check(not bad, f"{len(bad)} of {len(resources)} invalid: " + " | ".join(bad[:5]))
        return f"{len(resources)} {type_} resources valid"

    return run


for _type in UK_CORE_TYPES:
    test(f"ukcore.valid.{_type}", f"Returned {_type} resources are valid",
         f"Every {_type} the server returns SHALL be valid FHIR R4 (structure, cardinality, types, required "
         "bindings, invariants) with valid UK identifiers, as UK Core builds on the base; checked with caregate's "
         "validator against the R4 base definitions and UK identifier rules (profile-only constraints not yet).",
         UKCORE, mandatory=lambda cap, t=_type: bool(cap.interactions(t)))(_valid_test(_type))


@test("ukcore.nhs-number", "NHS numbers are valid",
      "A Patient identifier with system https://fhir.nhs.uk/Id/nhs-number SHALL hold a valid NHS number: ten "
      "digits whose last is the Modulus 11 check digit.", NHS_NUMBER,
      mandatory=lambda cap: bool(cap.interactions("Patient")))
def nhs_numbers(ctx: CheckContext) -> str:
    if not ctx.cap.interactions("Patient"):
        skip("Patient is not declared")
    patients = _returned(ctx, "Patient", 50)
    numbers = [(p.get("id"), i.get("value")) for p in patients for i in p.get("identifier") or []
               if i.get("system") == nhs_number.SYSTEM]
    if not numbers:
        skip("no Patient with an NHS number returned")
    bad = [f"Patient/{pid}: {value!r}" for pid, value in numbers
           if not isinstance(value, str) or not nhs_number.is_valid(value) or not value.isdigit()]
    check(not bad, f"invalid NHS numbers: {', '.join(bad[:10])}")
    return f"{len(numbers)} NHS numbers valid"


@test("ukcore.nhs-number-search", "Patients can be found by NHS number",
      "UK Core Patient search by identifier=https://fhir.nhs.uk/Id/nhs-number|[number] SHALL find the patient.",
      UKCORE, mandatory=lambda cap: "identifier" in cap.search_params("Patient"))
def nhs_number_search(ctx: CheckContext) -> str:
    if "identifier" not in ctx.cap.search_params("Patient"):
        skip("Patient identifier search is not declared")
    p = ctx.sample("Patient")
    number = next((i.get("value") for i in p.get("identifier") or [] if i.get("system") == nhs_number.SYSTEM), None)
    if not number:
        skip("the Patient tested has no NHS number")
    r = ctx.client.get("Patient", params={"identifier": f"{nhs_number.SYSTEM}|{number}"})
    ids = [(e.get("resource") or {}).get("id") for e in (body_json(r) or {}).get("entry") or []]
    check(r.status_code == 200 and p["id"] in ids, f"searching by NHS number found {ids} ({r.status_code})")
    return "found by NHS number"


@test("ukcore.snomed-coded", "Clinical codes use SNOMED CT",
      "UK Core binds Condition.code, Procedure.code, AllergyIntolerance.code, Immunization.vaccineCode and "
      "medication codes to SNOMED CT (dm+d) value sets: a coded element SHALL carry a SNOMED CT coding.", UKCORE,
      mandatory=lambda cap: any(cap.interactions(t) for t in SNOMED_ELEMENTS))
def snomed_coded(ctx: CheckContext) -> str:
    seen, bad = 0, []
    for type_, element in SNOMED_ELEMENTS.items():
        if not ctx.cap.interactions(type_):
            continue
        for r in _returned(ctx, type_, 10):
            values = r.get(element)
            for concept in values if isinstance(values, list) else [values]:
                if not isinstance(concept, dict) or not concept.get("coding"):
                    continue
                seen += 1
                if not any(c.get("system") == SNOMED for c in concept["coding"]):
                    systems = sorted({str(c.get("system")) for c in concept["coding"]})
                    bad.append(f"{type_}/{r.get('id')}.{element} uses {', '.join(systems)}")
    if not seen:
        skip("no coded clinical elements returned")
    check(not bad, f"{len(bad)} of {seen} coded elements without SNOMED CT: " + "; ".join(bad[:8]))
    return f"{seen} coded elements carry SNOMED CT"


def _codings(value: Any, path: str):
    if isinstance(value, dict):
        if value.get("system") == SNOMED and "code" in value:
            yield path, value.get("code")
        for k, v in value.items():
            yield from _codings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _codings(v, f"{path}[{i}]")


@test("ukcore.sctid", "SNOMED CT codes are well-formed concept ids",
      "A coding with system http://snomed.info/sct SHALL hold a SNOMED CT concept id: 6-18 digits, a concept "
      "partition and a valid Verhoeff check digit (post-coordinated expressions aside).",
      "https://confluence.ihtsdotools.org/display/DOCRELFMT/6.1+SCTID+Data+Type",
      mandatory=lambda cap: any(cap.interactions(t) for t in SNOMED_ELEMENTS))
def sctid(ctx: CheckContext) -> str:
    seen, bad = 0, []
    for type_ in sorted(set(TEMPLATES) & set(UK_CORE_TYPES)):
        if not ctx.cap.interactions(type_):
            continue
        for r in _returned(ctx, type_, 10):
            for path, code in _codings(r, f"{type_}/{r.get('id')}"):
                if isinstance(code, str) and any(ch in code for ch in ":=+{"):
                    continue
                seen += 1
                problem = concept_id_problem(str(code))
                if problem:
                    bad.append(f"{path}: {problem}")
    if not seen:
        skip("no SNOMED CT codings returned")
    check(not bad, f"{len(bad)} of {seen} SNOMED CT codes malformed: " + "; ".join(bad[:8]))
    return f"{seen} SNOMED CT codes well-formed"


@test("ukcore.ods-code", "Organisations carry well-formed ODS codes",
      "An Organization identifier with system https://fhir.nhs.uk/Id/ods-organization-code holds an ODS code: 3 "
      "to 10 upper-case letters and digits.", "https://digital.nhs.uk/services/organisation-data-service",
      mandatory=lambda cap: False)
def ods_code(ctx: CheckContext) -> str:
    import re

    if not ctx.cap.interactions("Organization"):
        skip("Organization is not declared")
    codes = [(o.get("id"), i.get("value")) for o in _returned(ctx, "Organization", 50)
             for i in o.get("identifier") or [] if i.get("system") == "https://fhir.nhs.uk/Id/ods-organization-code"]
    if not codes:
        skip("no Organization with an ODS code returned")
    bad = [f"Organization/{oid}: {v!r}" for oid, v in codes if not re.fullmatch(r"[A-Z0-9]{3,10}", str(v))]
    check(not bad, f"malformed ODS codes: {', '.join(bad[:10])}")
    return f"{len(codes)} ODS codes well-formed"


@test("ukcore.references-resolve", "References between records resolve",
      "A server declaring referencePolicy 'resolves' or 'local' SHALL hold the targets of the relative references "
      "it returns: reading Patient/123 named by an Observation succeeds.",
      "https://hl7.org/fhir/R4/references.html",
      mandatory=lambda cap: any({"resolves", "local"} & set(cap.resource(t).get("referencePolicy") or [])
                                for t in TEMPLATES))
def references_resolve(ctx: CheckContext) -> str:
    refs: set[str] = set()
    for type_ in ("Observation", "Condition", "Encounter", "PractitionerRole"):
        if ctx.cap.interactions(type_):
            for r in _returned(ctx, type_, 5):
                for _path, ref in _references(r):
                    refs.add(ref)
    if not refs:
        skip("no relative references returned")
    missing = []
    for ref in sorted(refs)[:25]:
        if ctx.client.get(ref).status_code != 200:
            missing.append(ref)
    check(not missing, f"references that do not resolve: {', '.join(missing)}")
    return f"{min(len(refs), 25)} references resolve"


def _references(value: Any, path: str = ""):
    import re

    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}", ref):
            yield path, ref
        for k, v in value.items():
            if k != "contained":
                yield from _references(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _references(v, path)
