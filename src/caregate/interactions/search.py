"""search-type and search-system (https://hl7.org/fhir/R4/http.html#search, search.html).

One SQL query per page; paging links carry an opaque keyset cursor and repeat the search's own parameters
(minus those ignored), so `self` says exactly what was searched.
"""

from __future__ import annotations

import orjson

from caregate.errors import FhirError, Issue, incorrect
from caregate.fhir.definitions import is_resource_type, patient_compartment
from caregate.fhir.subset import subset
from caregate.interactions.bundles import full_url, link, outcome, resource_fragment
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import (
    bound_query,
    check_reached_types,
    confine_subscriptions,
    permit,
    permit_types,
    readable_included,
)
from caregate.interactions.redact import redact_page
from caregate.interactions.resource_rules import check_type
from caregate.policy import Access
from caregate.search.query import Clause, SearchQuery, TokenValue, ignored_issue, parse
from caregate.storage.base import Stored


def parse_query(ctx: RequestContext, type_: str | None, params: list[tuple[str, str]]) -> SearchQuery:
    return parse(type_, params, ctx.registry, strict=ctx.strict, base_url=ctx.base_url, max_count=ctx.page_max)


async def find(ctx: RequestContext, type_: str, params: list[tuple[str, str]],
               bounds: Access | None = None) -> list[Stored]:
    """All current matches of a conditional-interaction query (If-None-Exist, conditional update/delete).

    Conditional interactions are always strict: a criterion the server would ignore could widen the match
    and touch the wrong resource (http.html#cond-update)."""
    query = parse(type_, params, ctx.registry, strict=True, base_url=ctx.base_url)
    query.total = "none"
    if bounds is not None:
        bound_query(ctx, bounds, query)
    page = await ctx.store.search(query, 2)
    return page.items


async def compartment_search(ctx: RequestContext, comp_type: str, comp_id: str, type_: str,
                             params: list[tuple[str, str]]) -> Result:
    """`GET [base]/Patient/[id]/[type]?...`: the resources in that patient's compartment, by the reference
    parameters the Patient CompartmentDefinition names for the type (https://hl7.org/fhir/R4/compartmentdefinition-patient.html)."""
    if comp_type != "Patient":
        raise FhirError("not-found", f"Only the Patient compartment is supported, not {comp_type}.")
    check_type(type_)
    codes = patient_compartment().get(type_)
    if not codes and type_ != "Patient":
        raise FhirError("not-found", f"{type_} resources are never in a Patient compartment.")
    return await search(ctx, type_, params, compartment=(comp_type, comp_id, tuple(codes or ())),
                        path=f"{comp_type}/{comp_id}/{type_}")


async def search(ctx: RequestContext, type_: str | None, params: list[tuple[str, str]], *,
                 compartment: tuple[str, str, tuple[str, ...]] | None = None, path: str | None = None) -> Result:
    types: list[str] | None = None
    if type_ is None:
        wanted = [v for n, v in params if n == "_type"]
        types = [t for v in wanted for t in v.split(",") if t]
        for t in types:
            if not is_resource_type(t):
                raise incorrect(f"_type names '{t}', which is not a FHIR R4 resource type.", "_type")
    else:
        check_type(type_)
    decision = permit(ctx, type_, "search-type") if type_ is not None else permit_types(ctx, types, "search-system")
    query = parse_query(ctx, type_, params)
    bound_query(ctx, decision, query)
    check_reached_types(ctx, query)
    types = await confine_subscriptions(ctx, query, types)
    if compartment is not None:
        if type_ == "Patient":
            query.clauses.append(_id_clause(ctx, compartment[1]))
        else:
            query.compartment = compartment
    size = ctx.page_default if query.count is None else query.count
    page = redact_page(ctx, await ctx.store.search(query, size, types))
    path = path or type_ or ""
    base = ctx.base_url
    echo = list(query.echo)
    bundle: dict = {"resourceType": "Bundle", "type": "searchset"}
    if page.total is not None:
        bundle["total"] = page.total
    links = [{"relation": "self", "url": link(base, path, echo)}]
    if page.next_cursor:
        links.append({"relation": "next", "url": link(base, path, [*echo, ("_cursor", page.next_cursor)])})
    if page.prev_cursor:
        links.append({"relation": "previous", "url": link(base, path, [*echo, ("_cursor", page.prev_cursor)])})
    bundle["link"] = links
    reduce = bool(query.elements) or query.summary in ("true", "text", "data")

    def body(s: Stored) -> object:
        return subset(orjson.loads(s.json), query.elements, query.summary) if reduce else resource_fragment(s)

    entries: list[dict] = [{"fullUrl": full_url(base, s), "resource": body(s), "search": {"mode": "match"}}
                           for s in page.items]
    entries += [{"fullUrl": full_url(base, s), "resource": body(s), "search": {"mode": "include"}}
                for s in page.included if readable_included(ctx, query, s.type)]
    issues = []
    warning = ignored_issue(query)
    if warning is not None:
        issues.append(warning)
    if page.includes_capped:
        issues.append(Issue("Included resources were capped for this page; narrow the search or use a smaller "
                            "_count to receive them all.", "too-costly", "warning", ("_include",)))
    if issues:
        entries.append({"resource": outcome(issues), "search": {"mode": "outcome"}})
    if entries:
        bundle["entry"] = entries
    return Result(body=bundle)


def _id_clause(ctx: RequestContext, id_: str) -> Clause:
    param = ctx.registry.get("Patient", "_id")
    assert param is not None
    return Clause("_id", param, None, (TokenValue(None, id_),))
