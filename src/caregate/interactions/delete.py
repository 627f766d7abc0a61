"""delete and conditional delete (https://hl7.org/fhir/R4/http.html#delete).

Deletion is soft: a new version marks the resource deleted, history keeps every earlier version, and a
later read answers 410 Gone.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from caregate.clock import SystemClock, instant
from caregate.errors import FhirError, incorrect
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import permit, visible
from caregate.interactions.resource_rules import check_id, check_type
from caregate.interactions.search import find
from caregate.interactions.update import parse_if_match
from caregate.storage.base import Stored, Write


async def delete(ctx: RequestContext, type_: str, id_: str, if_match: str | None = None) -> Result:
    check_type(type_)
    check_id(id_)
    decision = permit(ctx, type_, "delete")
    if not await visible(ctx, decision, type_, id_):  # outside the bounds: answered as if absent
        return Result(stored=Stored(type_, id_, 0, instant(SystemClock().now()), True, b"", 0, "noop"))
    stored = (await ctx.store.transact([Write("delete", type_, id_, None, parse_if_match(if_match))],
                                    ctx.notes))[0]
    return Result(stored=stored)


async def conditional_delete(ctx: RequestContext, type_: str, criteria: str) -> Result:
    """Single-match conditional delete: several matches are refused with 412 rather than guessed at."""
    check_type(type_)
    params = parse_qsl(criteria, keep_blank_values=True)
    if not params:
        raise incorrect("A conditional delete needs search criteria in the URL.")
    matches = await find(ctx, type_, params, permit(ctx, type_, "delete"))
    if len(matches) > 1:
        raise FhirError("precondition", f"The criteria match more than one {type_}; be more specific.")
    if not matches:
        return Result(status=204)
    return await delete(ctx, type_, matches[0].id)
