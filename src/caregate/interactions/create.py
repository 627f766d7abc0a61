"""create, with conditional create (https://hl7.org/fhir/R4/http.html#create, #ccreate)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from caregate.errors import FhirError
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import check_body_within, permit
from caregate.interactions.redact import redact
from caregate.interactions.resource_rules import check_body, check_type
from caregate.interactions.search import find
from caregate.interactions.validation import check_write
from caregate.storage.base import Write


async def create(ctx: RequestContext, type_: str, body: object, if_none_exist: str | None = None) -> Result:
    """The server assigns the id; a client-supplied id is ignored, as the spec requires."""
    check_type(type_)
    decision = permit(ctx, type_, "create")
    resource = check_body(body, type_)
    check_body_within(ctx, decision, type_, resource)
    warnings = await check_write(ctx, resource)
    if if_none_exist:
        matches = await find(ctx, type_, parse_qsl(if_none_exist.lstrip("?"), keep_blank_values=True), decision)
        if len(matches) > 1:
            raise FhirError("precondition", f"If-None-Exist matched more than one {type_}; be more specific.")
        if matches:
            return Result(stored=redact(ctx, matches[0]), status=200)
    stored = (await ctx.store.transact([Write("create", type_, ctx.ids(), resource)], ctx.notes))[0]
    return Result(stored=stored, created=True, warnings=warnings)
