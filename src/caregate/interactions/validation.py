"""Validation of writes and the `$validate` operation (https://hl7.org/fhir/R4/resource-operation-validate.html).

The server validates every create, update, patch and transaction entry in one of three modes:

- `lenient` (default): a resource is rejected (422) only for errors against the base R4 specification;
  what its declared profiles (`meta.profile`) reject, and profiles or ValueSets that cannot be resolved, are
  warnings kept for the response.
- `strict`: also rejects a resource that fails a declared profile; a profile the server cannot resolve stays
  a warning, as the issue of any unknown definition is (nothing was checked, so nothing failed).
- `off`: no validation beyond what storing a resource needs (resource_rules.py).

`$validate` (type and instance level) always answers 200 with an OperationOutcome, also when the resource
is invalid; the resource comes as the body or in a Parameters resource (`resource`, `profile`, `mode`).
Profiles stored on the server (StructureDefinitions posted or loaded) are used by `$validate` and by the
checks of writes that declare them, beside the shipped UK Core ones.
"""

from __future__ import annotations

import orjson

from caregate.errors import FhirError, Issue, incorrect
from caregate.fhir.validate import outcome, validate
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.owner import server_fields
from caregate.interactions.read import read
from caregate.interactions.resource_rules import check_id, check_type
from caregate.interactions.stored_terminology import refresh_stored_terminology
from caregate.interactions.structure_definitions import stored_profiles

__all__ = ["MODES", "check_write", "validate_operation"]

MODES = ("strict", "lenient", "off")
_OPERATION_MODES = ("create", "update", "delete", "profile")


def _relocate(issue: Issue, rtype: str, where: str | None) -> Issue:
    if where is None or not issue.expression:
        return issue
    loc = issue.expression[0]
    if loc == rtype or loc.startswith(rtype + ".") or loc.startswith(rtype + "["):
        loc = where + loc[len(rtype):]
    return Issue(issue.diagnostics, issue.code, issue.severity, (loc, *issue.expression[1:]))


def _located(exc: FhirError, rtype: str, where: str | None) -> FhirError:
    """`exc` with its issues' locations moved under `where` (a Bundle entry), as `_relocate` does."""
    if where is None:
        return exc
    first = _relocate(exc.issues[0], rtype, where)
    return FhirError(exc.category, exc.message, first.expression, code=exc.code,
                     extra=[_relocate(i, rtype, where) for i in exc.extra], headers=exc.headers)


async def check_write(ctx: RequestContext, resource: dict, where: str | None = None) -> list[Issue]:
    """Validate a resource about to be written: raise a 422 FhirError listing every issue when the server's
    mode rejects it, else return the warnings. `where` relocates issues (`Bundle.entry[2].resource`). Declared
    profiles stored on this server are used beside the shipped ones. Every write passes here, so a Subscription
    also gets its writer recorded as its owner first, and records only the server writes are refused
    (interactions/owner.py)."""
    server_fields(ctx, resource)
    if ctx.write_check is not None:
        try:
            ctx.write_check(resource)
        except FhirError as exc:
            raise _located(exc, str(resource.get("resourceType")), where) from None
    mode = ctx.validation
    if mode == "off":
        return []
    rtype = str(resource.get("resourceType"))
    await refresh_stored_terminology(ctx.store, resource, every=1.0)  # bindings see stored ValueSets
    stored = await stored_profiles(ctx, _profile_urls(resource, None))
    found = validate(resource, definitions=stored, profile_errors="warning" if mode == "lenient" else "error")
    issues = [_relocate(i, rtype, where) for i in found]
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        first = errors[0]
        raise FhirError("invalid", first.diagnostics, first.expression, code=first.code,
                        extra=[i for i in issues if i is not first])
    return [i for i in issues if i.severity == "warning"]


def _from_parameters(body: dict) -> tuple[object, str | None, str | None]:
    resource: object = None
    profile = mode = None
    for p in body.get("parameter") or ():
        if not isinstance(p, dict):
            continue
        name = p.get("name")
        if name == "resource":
            resource = p.get("resource")
        elif name == "profile":
            profile = p.get("valueUri") or p.get("valueCanonical")
        elif name == "mode":
            mode = p.get("valueCode")
    return resource, profile, mode


def _profile_urls(resource: dict, profile: str | None) -> list[str]:
    meta = resource.get("meta")
    declared = meta.get("profile") if isinstance(meta, dict) else None
    urls = [u for u in declared if isinstance(u, str)] if isinstance(declared, list) else []
    return [profile, *urls] if profile else urls


async def validate_operation(ctx: RequestContext, type_: str, id_: str | None, body: object,
                             params: list[tuple[str, str]]) -> Result:
    """`[base]/[type]/$validate` and `[base]/[type]/[id]/$validate`: an OperationOutcome, status 200."""
    check_type(type_)
    if id_ is not None:
        check_id(id_)
    profile = next((v for k, v in params if k == "profile"), None)
    mode = next((v for k, v in params if k == "mode"), None)
    resource: object = body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters" and type_ != "Parameters":
        resource, p_profile, p_mode = _from_parameters(body)
        profile = p_profile or profile
        mode = p_mode or mode
    if mode is not None and mode not in _OPERATION_MODES:
        raise incorrect(f"Unknown $validate mode '{mode}': use create, update, delete or profile.", "mode")
    if mode == "delete":
        if id_ is None:
            raise incorrect("$validate with mode=delete needs a resource id in the URL.")
        await read(ctx, type_, id_)  # 404/410 when there is nothing to delete
        return Result(body=outcome([]), status=200)
    if resource is None and id_ is not None:
        stored = (await read(ctx, type_, id_)).stored
        resource = orjson.loads(stored.json) if stored is not None else None
    if not isinstance(resource, dict):
        raise incorrect("$validate needs a resource: the request body or a Parameters 'resource' parameter.")
    await refresh_stored_terminology(ctx.store)
    issues = validate(resource, profile, definitions=await stored_profiles(ctx, _profile_urls(resource, profile)))
    rtype = resource.get("resourceType")
    if isinstance(rtype, str) and rtype != type_:
        issues.insert(0, Issue(f"The resource is a {rtype} but the operation is invoked on {type_}.", "invalid",
                               "error", ("resourceType",)))
    if mode == "update" and id_ is not None and resource.get("id") != id_:
        issues.insert(0, Issue(f"For an update the resource's id must be {id_}.", "invalid", "error",
                               (f"{type_}.id",)))
    if mode == "create" and "id" in resource:
        issues.append(Issue("The id of a resource to create is ignored: the server assigns one.", "informational",
                            "information", (f"{type_}.id",)))
    return Result(body=outcome(issues), status=200)
