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

A profile named by the caller or declared in `meta.profile` is checked too (conformance.py): the shipped UK
Core profiles, or StructureDefinitions the caller passes as `definitions` (a server's own, snapshots generated
when they have only a differential). `profile_errors="warning"` reports what a profile rejects as warnings (the
lenient write mode); a profile that cannot be resolved is a warning saying the base alone was checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from caregate.errors import Issue
from caregate.fhir.validate.compiled import compile_profile
from caregate.fhir.validate.conformance import check_profile
from caregate.fhir.validate.model import type_info
from caregate.fhir.validate.structures import Definitions, SnapshotError
from caregate.fhir.validate.walker import Run, validate_resource

__all__ = ["BASE_PROFILE", "Issue", "has_errors", "outcome", "validate"]

BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
_RANK = {"fatal": 0, "error": 1, "warning": 2, "information": 3}


def validate(resource: Any, profile: str | None = None, *, definitions: Iterable[dict[str, Any]] = (),
             profile_errors: str = "error") -> list[Issue]:
    """Every issue found in `resource` (a parsed JSON resource), sorted and de-duplicated."""
    run = Run()
    validate_resource(run, resource, None)
    if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str) and \
            type_info(resource["resourceType"]) is not None:
        _profiles(run, resource, profile, Definitions(definitions), profile_errors, resource["resourceType"])
    ordered = sorted(run.issues, key=lambda i: (_RANK.get(i[0], 9), i[3], i[2]))
    return [Issue(message, code, severity, (loc,)) for severity, code, message, loc in ordered]


def _profiles(run: Run, resource: dict, profile: str | None, defs: Definitions, profile_errors: str,
              where: str) -> None:
    """Check `resource` (found at `where`) against `profile` and its declared profiles; then the declared
    profiles of a Bundle's entries (a document's or message's resources, bundle.html)."""
    rtype = resource["resourceType"]
    base = BASE_PROFILE + rtype
    wanted: list[tuple[str, str]] = []
    if profile:
        wanted.append((profile, where))
    meta = resource.get("meta")
    declared = meta.get("profile") if isinstance(meta, dict) else None
    if isinstance(declared, list):
        wanted.extend((url, f"{where}.meta.profile[{i}]") for i, url in enumerate(declared) if isinstance(url, str))
    done: set[str] = set()
    for url, loc in wanted:
        key = url.split("|", 1)[0]
        if key == base or key in done:
            continue
        done.add(key)
        try:
            compiled = compile_profile(key, defs)
        except SnapshotError as exc:
            run.report("warning", "not-supported", f"The profile {url} cannot be used: {exc} The resource was "
                       "checked against the base FHIR R4 specification only.", loc)
            continue
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a malformed run-time definition
            run.report("warning", "not-supported", f"The profile {url} cannot be used: its definition is malformed "
                       f"({type(exc).__name__}: {exc}). The resource was checked against the base FHIR R4 "
                       "specification only.", loc)
            continue
        if compiled is None:
            run.report("warning", "not-supported", f"The profile {url} is not known to this validator: the "
                       "resource was checked against the base FHIR R4 specification only.", loc)
            continue
        if compiled.type != rtype:
            run.report(profile_errors, "invalid", f"The profile {url} is for {compiled.type} resources, not {rtype}.",
                       loc)
            continue
        found = Run()
        try:
            check_profile(found, resource, compiled, defs, where)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # an extension or type profile given at
            found = Run()  # run time that is malformed: say so rather than half an answer
            found.report("warning", "not-supported", f"The profile {url} could not be checked: a definition it "
                         f"uses is malformed ({type(exc).__name__}: {exc}).", loc)
        for severity, code, message, at in found.issues:
            if severity in ("error", "fatal") and profile_errors != "error":
                severity = profile_errors
            run.report(severity, code, message, at)
    entries = resource.get("entry") if rtype == "Bundle" else None
    for i, entry in enumerate(entries if isinstance(entries, list) else ()):
        inner = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(inner, dict) and isinstance(inner.get("resourceType"), str) and \
                type_info(inner["resourceType"]) is not None and isinstance(inner.get("meta"), dict):
            _profiles(run, inner, None, defs, profile_errors, f"{where}.entry[{i}].resource")


def has_errors(issues: list[Issue]) -> bool:
    return any(i.severity in ("error", "fatal") for i in issues)


def outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome of the issues; one informational issue when there are none (operationoutcome.html)."""
    if not issues:
        return {"resourceType": "OperationOutcome", "issue": [
            {"severity": "information", "code": "informational", "diagnostics": "No issues found."}]}
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}
