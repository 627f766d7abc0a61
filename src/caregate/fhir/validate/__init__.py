"""Resource validation against the FHIR R4 base definitions (https://hl7.org/fhir/R4/validation.html).

    from caregate.fhir.validate import validate, has_errors

    issues = validate({"resourceType": "Patient", "gender": "femal"})
    # [Issue('The code 'femal' is not in the ValueSet .../administrative-gender, ...', 'code-invalid',
    #        'error', ('Patient.gender',))]

Checks structure (unknown elements, JSON types, primitive formats, `_name` companions, choice types,
resourceType, contained resources, empty elements), cardinality, fixed and pattern values, bindings,
invariants (FHIRPath, see invariants.py), reference target types and the UK identifier rules (uk.py). Each
issue carries its severity, an IssueType code (valueset-issue-type.html), a human message and the exact
FHIRPath location, and the list is sorted (errors first, then by location) and de-duplicated.

Profiles other than the base StructureDefinition of the resource's type are not known yet: naming one (or
declaring it in `meta.profile`) gives a warning saying the resource was checked against the base only.
"""

from __future__ import annotations

from typing import Any

from caregate.errors import Issue
from caregate.fhir.validate.walker import Run, validate_resource

__all__ = ["BASE_PROFILE", "Issue", "has_errors", "outcome", "validate"]

BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
_RANK = {"fatal": 0, "error": 1, "warning": 2, "information": 3}


def validate(resource: Any, profile: str | None = None) -> list[Issue]:
    """Every issue found in `resource` (a parsed JSON resource), sorted and de-duplicated."""
    run = Run()
    validate_resource(run, resource, None)
    if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
        _profiles(run, resource, profile)
    ordered = sorted(run.issues, key=lambda i: (_RANK.get(i[0], 9), i[3], i[2]))
    return [Issue(message, code, severity, (loc,)) for severity, code, message, loc in ordered]


def _profiles(run: Run, resource: dict, profile: str | None) -> None:
    rtype = resource["resourceType"]
    base = BASE_PROFILE + rtype
    wanted: list[tuple[str, str]] = []
    if profile:
        wanted.append((profile, rtype))
    meta = resource.get("meta")
    declared = meta.get("profile") if isinstance(meta, dict) else None
    if isinstance(declared, list):
        wanted.extend((url, f"{rtype}.meta.profile[{i}]") for i, url in enumerate(declared) if isinstance(url, str))
    for url, loc in wanted:
        if url.split("|", 1)[0] != base:
            run.report("warning", "not-supported", f"The profile {url} is not known to this validator: the "
                       "resource was checked against the base FHIR R4 specification only.", loc)


def has_errors(issues: list[Issue]) -> bool:
    return any(i.severity in ("error", "fatal") for i in issues)


def outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome of the issues; one informational issue when there are none (operationoutcome.html)."""
    if not issues:
        return {"resourceType": "OperationOutcome", "issue": [
            {"severity": "information", "code": "informational", "diagnostics": "No issues found."}]}
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}
