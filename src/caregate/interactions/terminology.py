"""The terminology operations on the REST API: ValueSet `$expand`, `$validate-code`; CodeSystem `$lookup`,
`$validate-code`, `$subsumes`; ConceptMap `$translate` (https://hl7.org/fhir/R4/terminology-service.html).

Type level works on a ValueSet, CodeSystem or ConceptMap named by url (or a ValueSet or ConceptMap given in
the Parameters), stored on this server or shipped; instance level on a shipped or stored one by id. Stored
CodeSystems, ValueSets and ConceptMaps also take part in expansions, lookups and translations wherever their
url is named (stored_terminology.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from caregate.clock import instant
from caregate.errors import FhirError
from caregate.fhir.terminology import code_system_by_id, value_set_by_id
from caregate.fhir.terminology import operations as ops
from caregate.fhir.terminology.content import concept_map_by_id
from caregate.fhir.terminology.translate import translate
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.read import read
from caregate.interactions.stored_terminology import refresh_stored_terminology

__all__ = ["OPERATIONS", "terminology_operation"]

OPERATIONS = {"ValueSet": ("$expand", "$validate-code"), "CodeSystem": ("$lookup", "$validate-code", "$subsumes"),
              "ConceptMap": ("$translate",)}


async def _stored(ctx: RequestContext, type_: str, id_: str) -> dict:
    stored = (await read(ctx, type_, id_)).stored
    if stored is None:
        raise FhirError("not-found", f"{type_}/{id_} is not known.")
    return orjson.loads(stored.json)


async def terminology_operation(ctx: RequestContext, type_: str, id_: str | None, op: str, body: object,
                                params: list[tuple[str, str]]) -> Result:
    args = ops.inputs(params, body)
    await refresh_stored_terminology(ctx.store)
    if type_ == "ConceptMap":
        cm = None
        if id_ is not None:
            cm = concept_map_by_id(id_) or await _stored(ctx, type_, id_)
        return Result(body=translate(args, cm), status=200)
    if type_ == "ValueSet":
        instance = None
        if id_ is not None:
            instance = value_set_by_id(id_) or await _stored(ctx, type_, id_)
        vs = ops.resolve_value_set(args, instance)
        if op == "$expand":
            return Result(body=ops.expand_operation(vs, args, instant(datetime.now(UTC))), status=200)
        return Result(body=ops.validate_code_vs(vs, args), status=200)
    cs = None
    if id_ is not None:
        cs = code_system_by_id(id_)
        if cs is None:
            url = (await _stored(ctx, type_, id_)).get("url")
            cs = ops.code_system_or_fail(url) if isinstance(url, str) else None
        if cs is None:
            raise FhirError("invalid", f"CodeSystem/{id_} has no url this server holds concepts for.",
                            code="not-supported")
    if op == "$lookup":
        return Result(body=ops.lookup(args, cs), status=200)
    if op == "$subsumes":
        return Result(body=ops.subsumes(args, cs), status=200)
    return Result(body=ops.validate_code_cs(args, cs), status=200)
