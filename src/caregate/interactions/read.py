"""read and vread (https://hl7.org/fhir/R4/http.html#read, #vread)."""

from __future__ import annotations

from caregate.errors import FhirError, incorrect
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import check_visible, permit
from caregate.interactions.redact import redact
from caregate.interactions.resource_rules import check_id, check_type


async def read(ctx: RequestContext, type_: str, id_: str) -> Result:
    check_type(type_)
    check_id(id_)
    await check_visible(ctx, permit(ctx, type_, "read"), type_, id_)
    stored = await ctx.store.read(type_, id_)
    if stored is None:
        raise FhirError("not-found", f"{type_}/{id_} does not exist.")
    if stored.deleted:
        raise FhirError("gone", f"{type_}/{id_} was deleted (version {stored.version}).",
                        headers={"ETag": f'W/"{stored.version}"'})
    return Result(stored=redact(ctx, stored))


async def vread(ctx: RequestContext, type_: str, id_: str, version: str) -> Result:
    check_type(type_)
    check_id(id_)
    if not version.isdigit():
        raise incorrect(f"'{version}' is not a version id of this server (they are whole numbers).", "vid")
    await check_visible(ctx, permit(ctx, type_, "vread"), type_, id_)
    stored = await ctx.store.vread(type_, id_, int(version))
    if stored is None:
        raise FhirError("not-found", f"{type_}/{id_} has no version {version}.")
    if stored.deleted:
        raise FhirError("gone", f"Version {version} of {type_}/{id_} is a deletion.")
    return Result(stored=redact(ctx, stored))
