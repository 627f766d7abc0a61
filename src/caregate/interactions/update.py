"""update, create-on-update and conditional update (https://hl7.org/fhir/R4/http.html#update, #cond-update)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from caregate.errors import FhirError, incorrect
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import bounded, check_body_within, check_visible, permit
from caregate.interactions.resource_rules import check_body, check_id, check_type
from caregate.interactions.search import find
from caregate.interactions.validation import check_write
from caregate.storage.base import Write


def parse_if_match(value: str | None) -> int | None:
    """`If-Match: W/"3"` -> 3 (http.html#concurrency)."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise incorrect(f"If-Match must name a version like W/\"3\", not {value!r}.")
    return int(text)


async def update(ctx: RequestContext, type_: str, id_: str, body: object, if_match: str | None = None) -> Result:
    check_type(type_)
    check_id(id_)
    resource = check_body(body, type_, id_, need_id=True)
    decision = permit(ctx, type_, "update")
    if bounded(ctx, decision):  # an existing resource outside the bounds answers 404, as a read would
        if await ctx.store.read(type_, id_) is not None:
            await check_visible(ctx, decision, type_, id_)
        check_body_within(ctx, decision, type_, resource)
    warnings = await check_write(ctx, resource)
    stored = (await ctx.store.transact([Write("update", type_, id_, resource, parse_if_match(if_match))],
                                    ctx.notes))[0]
    return Result(stored=stored, created=stored.method == "create", warnings=warnings)


async def conditional_update(ctx: RequestContext, type_: str, criteria: str, body: object,
                             if_match: str | None = None) -> Result:
    check_type(type_)
    params = parse_qsl(criteria, keep_blank_values=True)
    if not params:
        raise incorrect("A conditional update needs search criteria in the URL.")
    matches = await find(ctx, type_, params, permit(ctx, type_, "update"))
    if len(matches) > 1:
        raise FhirError("precondition", f"The criteria match more than one {type_}; be more specific.")
    if not isinstance(body, dict):
        raise incorrect("The request body must be a FHIR resource: a JSON object.")
    if matches:
        id_ = matches[0].id
        if "id" in body and body["id"] != id_:
            raise incorrect(f"The resource's id ({body['id']}) is not the id of the matching {type_} ({id_}).")
    else:
        id_ = body.get("id") or ctx.ids()
    return await update(ctx, type_, id_, {**body, "id": id_}, if_match)
