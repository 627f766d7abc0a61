"""StructureDefinitions on the REST API: those stored on the server beside the shipped UK Core ones.

The UK Core profiles and extension definitions ship with the package, with their generated snapshots
(caregate.fhir.validate.structures). They answer `GET [base]/StructureDefinition/[id]` when no stored
resource has that id, and a search by `url` (https://hl7.org/fhir/R4/structuredefinition.html#search) when no
stored StructureDefinition has that url; they are read-only, like the server's CapabilityStatement. Profiles
stored on the server (POSTed, or loaded from a package folder by `caregate load`) are found here by url for
`$validate`, together with the stored profiles they build on, so validation can use them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from caregate.errors import FhirError
from caregate.fhir.validate.structures import CORE, shipped
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.read import read
from caregate.interactions.search import search

__all__ = ["TYPE", "read_definition", "search_definitions", "stored_profiles"]

TYPE = "StructureDefinition"
_SHIPPED_SEARCH = frozenset({"url", "_count", "_format", "_summary", "_elements", "_total"})


@cache
def _by_id() -> dict[str, dict[str, Any]]:
    return {sd["id"]: sd for sd in shipped().values() if isinstance(sd.get("id"), str)}


async def read_definition(ctx: RequestContext, id_: str) -> Result:
    try:
        return await read(ctx, TYPE, id_)
    except FhirError as exc:
        sd = _by_id().get(id_)
        if exc.category != "not-found" or sd is None:
            raise
        return Result(body=sd)


async def search_definitions(ctx: RequestContext, params: list[tuple[str, str]]) -> Result:
    """The stored matches, and the shipped definition of a searched `url` that no stored one has."""
    result = await search(ctx, TYPE, params)
    urls = [u.split("|", 1)[0] for name, value in params if name == "url" for u in value.split(",")]
    if not urls or any(name not in _SHIPPED_SEARCH for name, _ in params):
        return result
    bundle = result.body or {}
    if bundle.get("total"):
        return result
    found = [shipped()[u] for u in dict.fromkeys(urls) if u in shipped()]
    if not found:
        return result
    entries = [{"fullUrl": f"{ctx.base_url}/{TYPE}/{sd['id']}", "resource": sd, "search": {"mode": "match"}}
               for sd in found]
    bundle["entry"] = entries + list(bundle.get("entry", ()))
    if "total" in bundle:
        bundle["total"] = len(found)
    return Result(body=bundle)


async def _stored(ctx: RequestContext, url: str) -> dict[str, Any] | None:
    try:
        bundle = (await search(ctx, TYPE, [("url", url), ("_count", "1")])).body or {}
    except FhirError as exc:
        if exc.category == "forbidden":  # a user who may not read profiles: the profile is unknown to them
            return None
        raise
    for entry in bundle.get("entry", ()):
        if entry.get("search", {}).get("mode") == "match":
            resource = orjson.loads(orjson.dumps(entry["resource"]))  # stored resources come as JSON fragments
            return resource if isinstance(resource, dict) else None
    return None


async def stored_profiles(ctx: RequestContext, urls: list[str]) -> list[dict[str, Any]]:
    """The stored StructureDefinitions with these urls and the stored ones they derive from."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    todo = [u.split("|", 1)[0] for u in urls]
    while todo:
        url = todo.pop()
        if url in seen or url in shipped() or url.startswith(CORE):
            continue
        seen.add(url)
        sd = await _stored(ctx, url)
        if sd is not None:
            out.append(sd)
            base = sd.get("baseDefinition")
            if isinstance(base, str):
                todo.append(base.split("|", 1)[0])
    return out
