"""patch with JSON Patch (https://hl7.org/fhir/R4/http.html#patch).

The patched resource is written with an implicit If-Match on the version that was read, so a concurrent
update is never silently overwritten: the loser gets 412 and can retry.
"""

from __future__ import annotations

import orjson

from caregate.errors import FhirError, incorrect
from caregate.fhir import jsonpatch
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.read import read
from caregate.interactions.resource_rules import check_body
from caregate.interactions.update import parse_if_match
from caregate.storage.base import Write


async def patch(ctx: RequestContext, type_: str, id_: str, operations: object,
                if_match: str | None = None) -> Result:
    current = (await read(ctx, type_, id_)).stored
    assert current is not None
    expected = parse_if_match(if_match)
    if expected is not None and expected != current.version:
        raise FhirError("precondition", f"{type_}/{id_} is at version {current.version}, not {expected}.")
    try:
        patched = jsonpatch.apply(orjson.loads(current.json), operations)
    except jsonpatch.PatchError as exc:
        raise FhirError("invalid", str(exc), (f"[{exc.index}]",)) from exc
    if not isinstance(patched, dict):
        raise incorrect("The patch must leave a resource (a JSON object).")
    resource = check_body(patched, type_, id_, need_id=True)
    stored = (await ctx.store.transact([Write("update", type_, id_, resource, current.version)]))[0]
    return Result(stored=stored)
