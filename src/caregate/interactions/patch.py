"""patch with JSON Patch or FHIRPath Patch (https://hl7.org/fhir/R4/http.html#patch, fhirpatch.html).

The patched resource is written with an implicit If-Match on the version that was read, so a concurrent
update is never silently overwritten: the loser gets 412 and can retry.
"""

from __future__ import annotations

import orjson

from caregate.errors import FhirError, incorrect
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import check_body_within, check_visible, permit
from caregate.interactions.patch_formats import apply_patch
from caregate.interactions.redact import drop_others_secrets
from caregate.interactions.resource_rules import check_body, check_id, check_type
from caregate.interactions.update import parse_if_match
from caregate.interactions.validation import check_write
from caregate.storage.base import Write


async def patch(ctx: RequestContext, type_: str, id_: str, operations: object,
                if_match: str | None = None) -> Result:
    check_type(type_)
    check_id(id_)
    decision = permit(ctx, type_, "patch")
    await check_visible(ctx, decision, type_, id_)
    current = await ctx.store.read(type_, id_)
    if current is None:
        raise FhirError("not-found", f"{type_}/{id_} does not exist.")
    if current.deleted:
        raise FhirError("gone", f"{type_}/{id_} was deleted (version {current.version}).")
    expected = parse_if_match(if_match)
    if expected is not None and expected != current.version:
        raise FhirError("precondition", f"{type_}/{id_} is at version {current.version}, not {expected}.")
    base = orjson.loads(current.json)
    drop_others_secrets(ctx, base)  # a patch by another does not carry the owner's endpoint credentials over
    patched = apply_patch(base, operations)
    if not isinstance(patched, dict):
        raise incorrect("The patch must leave a resource (a JSON object).")
    resource = check_body(patched, type_, id_, need_id=True)
    check_body_within(ctx, decision, type_, resource)
    warnings = await check_write(ctx, resource)
    stored = (await ctx.store.transact([Write("update", type_, id_, resource, current.version)], ctx.notes))[0]
    return Result(stored=stored, warnings=warnings)
