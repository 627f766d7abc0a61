"""history at instance, type and system level (https://hl7.org/fhir/R4/http.html#history)."""

from __future__ import annotations

from caregate.errors import FhirError, incorrect
from caregate.interactions.bundles import link, resource_fragment
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import (
    check_visible,
    forbidden,
    hidden,
    owner_only,
    permit,
    permit_types,
    refused,
    viewer,
)
from caregate.interactions.redact import redact_page
from caregate.interactions.resource_rules import check_id, check_type
from caregate.search.dates import parse_range
from caregate.storage.base import HistoryQuery


async def history(ctx: RequestContext, type_: str | None, id_: str | None,
                  params: list[tuple[str, str]]) -> Result:
    if type_ is not None:
        check_type(type_)
    if id_ is not None:
        check_id(id_)
    if type_ is None:
        decision = permit_types(ctx, None, "history-system")
        if owner_only(ctx.actor, ctx.purpose) is not None:  # it would list others' Subscriptions (guard.py)
            raise forbidden("This user reaches only their own subscriptions, which history across every type "
                            "cannot keep to: ask for the history of each type.")
    else:
        decision = permit(ctx, type_, "history-instance" if id_ is not None else "history-type")
        if decision.constraints and id_ is None:
            raise forbidden(f"The scopes on {type_} carry query constraints, which history cannot apply.")
        if type_ == "Subscription" and id_ is None and owner_only(ctx.actor, ctx.purpose) is not None:
            raise forbidden("This user reaches only their own subscriptions: read each one's history by its id, "
                            "or search Subscription.")
    if id_ is not None:
        await check_visible(ctx, decision, type_ or "", id_)
    since = None
    count = ctx.page_default
    cursor = None
    echo: list[tuple[str, str]] = []
    for name, value in params:
        if name == "_since":
            try:
                since = parse_range(value)[0]
            except ValueError as exc:
                raise incorrect(f"_since: {exc}", "_since") from exc
            echo.append((name, value))
        elif name == "_count":
            if not value.isdigit():
                raise incorrect(f"_count must be a non-negative integer, not '{value}'.", "_count")
            count = min(int(value), ctx.page_max)
            echo.append((name, value))
        elif name == "_cursor":
            cursor = value
    page = await ctx.store.history(HistoryQuery(type_, id_, since, count, cursor, decision.patient,
                                                  refused(ctx), viewer(ctx, decision), hidden(ctx)))
    redact_page(ctx, page)
    if id_ is not None and not page.items and cursor is None:
        raise FhirError("not-found", f"{type_}/{id_} does not exist, so it has no history.")
    path = "/".join(p for p in (type_, id_, "_history") if p)
    base = ctx.base_url
    links = [{"relation": "self", "url": link(base, path, echo)}]
    if page.next_cursor:
        links.append({"relation": "next", "url": link(base, path, [*echo, ("_cursor", page.next_cursor)])})
    entries = []
    for s in page.items:
        url = f"{s.type}/{s.id}"
        entry: dict = {"fullUrl": f"{base}/{url}"}
        if not s.deleted:
            entry["resource"] = resource_fragment(s)
        method = {"create": "POST", "update": "PUT", "delete": "DELETE"}.get(s.method, "PUT")
        entry["request"] = {"method": method, "url": url if method != "POST" else s.type}
        entry["response"] = {"status": "201 Created" if method == "POST" else "200 OK",
                             "etag": f'W/"{s.version}"', "lastModified": s.last_updated}
        entries.append(entry)
    bundle: dict = {"resourceType": "Bundle", "type": "history", "link": links}
    if entries:
        bundle["entry"] = entries
    return Result(body=bundle)
