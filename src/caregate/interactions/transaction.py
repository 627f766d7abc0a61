"""batch and transaction Bundles (https://hl7.org/fhir/R4/http.html#transaction).

Each entry is authorized as the same request sent on its own would be: its reads and searches go through the
read and search interactions, a resource outside the user's reach (a `patient/` scope's compartment, a scope
constraint, a member of staff's relationships and the patients' Consents, withheld labels, the opt-out) is
treated as absent by updates, patches and deletes and by the conditional matches and references that pick a
target, and what is written must stay within the scopes' bounds (403 otherwise).

A transaction is all-or-nothing: every write of the Bundle goes to the store in ONE database transaction,
after `urn:uuid:` full URLs, conditional creates/updates and conditional references have been resolved.
Entries are processed in the order the specification sets (DELETE, POST, PUT/PATCH, then GET), and the
response lists them in the order of the request. A batch runs each entry on its own; a failing entry gets
an OperationOutcome in its response and the others still happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import orjson

from caregate.clock import SystemClock, instant
from caregate.errors import HTTP_STATUS, FhirError, incorrect, invalid
from caregate.interactions.bundles import outcome
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.guard import bounded, check_body_within, forbidden, permit, visible
from caregate.interactions.references import collect_references, is_conditional, rewrite_references
from caregate.interactions.resource_rules import check_body, check_id, check_type
from caregate.interactions.search import find
from caregate.interactions.update import parse_if_match
from caregate.interactions.validation import check_write
from caregate.policy import Access
from caregate.storage.base import Stored, Write

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass(slots=True)
class _Entry:
    index: int
    method: str
    url: str
    full_url: str | None
    resource: dict | None
    request: dict
    type: str = ""
    id: str | None = None
    write: Write | None = None
    existing: Stored | None = None  # conditional create that matched, or a delete that has nothing to do
    decision: Access | None = None  # the entry's authorization (None: no user)
    refs: set[str] = field(default_factory=set)  # every reference string the resource holds
    result: dict = field(default_factory=dict)


def _split_url(url: str, index: int) -> tuple[str, str | None, str | None]:
    """`Patient/1` -> (Patient, 1, None); `Patient?x=y` -> (Patient, None, 'x=y')."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    segments = [s for s in path.split("/") if s]
    if not segments:
        raise incorrect(f"Bundle.entry[{index}].request.url is empty.", f"Bundle.entry[{index}].request.url")
    return segments[0], segments[1] if len(segments) > 1 else None, parts.query or None


def _entries(bundle: object) -> tuple[str, list[_Entry]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise incorrect("POST to the base URL takes a Bundle of type batch or transaction.")
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise incorrect(f"Bundle.type must be batch or transaction, not {kind!r}.", "Bundle.type")
    raw = bundle.get("entry") or []
    if not isinstance(raw, list):
        raise invalid("Bundle.entry must be an array.", "Bundle.entry")
    out = []
    for i, e in enumerate(raw):
        where = f"Bundle.entry[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("request"), dict):
            raise invalid(f"{where} needs a request.", f"{where}.request")
        req = e["request"]
        method, url = req.get("method"), req.get("url")
        if method not in _ORDER or not isinstance(url, str):
            raise invalid(f"{where}.request needs a method (GET, POST, PUT, PATCH, DELETE) and a url.",
                          f"{where}.request")
        res = e.get("resource")
        if res is not None and not isinstance(res, dict):
            raise invalid(f"{where}.resource must be a resource.", f"{where}.resource")
        out.append(_Entry(i, method, url, e.get("fullUrl"), res, req))
    return kind, out


async def _plan(ctx: RequestContext, entries: list[_Entry]) -> dict[str, str]:
    """Decide every entry's target id; returns the map of placeholder full URLs to `Type/id`."""
    aliases: dict[str, str] = {}
    for e in entries:
        where = f"Bundle.entry[{e.index}]"
        if e.method in ("GET", "HEAD"):
            continue
        e.type, e.id, query = _split_url(e.url, e.index)
        check_type(e.type)
        if e.method == "POST":
            if e.resource is None:
                raise invalid(f"{where} (POST) needs a resource.", f"{where}.resource")
            check_body(e.resource, e.type)
            if e.request.get("ifNoneExist"):
                crit = parse_qsl(e.request["ifNoneExist"].lstrip("?"), keep_blank_values=True)
                found = await find(ctx, e.type, crit, e.decision)
                if len(found) > 1:
                    raise FhirError("precondition", f"{where}: ifNoneExist matched more than one {e.type}.")
                if found:
                    e.existing, e.id = found[0], found[0].id
            if e.id is None:
                e.id = ctx.ids()
        elif e.method in ("PUT", "DELETE", "PATCH") and query is not None:
            found = await find(ctx, e.type, parse_qsl(query, keep_blank_values=True), e.decision)
            if len(found) > 1:
                raise FhirError("precondition", f"{where}: the criteria match more than one {e.type}.")
            if found:
                e.id = found[0].id
            elif e.method == "PUT":
                e.id = (e.resource or {}).get("id") or ctx.ids()
            elif e.method == "PATCH":
                raise FhirError("not-found", f"{where}: no {e.type} matches the criteria to patch.")
        if e.id is None and e.method != "DELETE":
            raise incorrect(f"{where}: the url must name a resource ({e.type}/[id]).", f"{where}.request.url")
        if e.id is not None:
            check_id(e.id)
            if e.method != "POST":
                await _within_reach(ctx, e)
        if e.full_url and e.id:
            aliases[e.full_url] = f"{e.type}/{e.id}"
    return aliases


async def _within_reach(ctx: RequestContext, e: _Entry) -> None:
    """A resource the user may not see is absent to them, as to the same request sent on its own: an update
    or patch answers 404 (update.py, patch.py; a create-on-update of an id taken by one they may not see
    too), and a delete has nothing to do (delete.py)."""
    if e.decision is None or not bounded(ctx, e.decision) or await visible(ctx, e.decision, e.type, e.id or ""):
        return
    if e.method == "DELETE":
        e.existing = Stored(e.type, e.id or "", 0, instant(SystemClock().now()), True, b"", 0, "noop")
    elif e.method == "PATCH" or await ctx.store.read(e.type, e.id or "") is not None:
        raise FhirError("not-found", f"Bundle.entry[{e.index}]: {e.type}/{e.id} does not exist.")


async def _resolve_conditional_refs(ctx: RequestContext, entries: list[_Entry]) -> dict[str, str]:
    found: dict[str, str] = {}
    for e in entries:
        if e.resource is None:
            continue
        e.refs = collect_references(e.resource, set())
        for ref in e.refs:
            if is_conditional(ref) and ref not in found:
                type_, _, crit = ref.partition("?")
                check_type(type_)
                bounds = permit(ctx, type_, "search-type") if ctx.actor is not None else None  # it is a search
                matches = await find(ctx, type_, parse_qsl(crit, keep_blank_values=True), bounds)
                if len(matches) != 1:
                    how = "no" if not matches else "more than one"
                    raise FhirError("precondition", f"The conditional reference {ref!r} matches {how} resource;"
                                                    " it must match exactly one.")
                found[ref] = f"{type_}/{matches[0].id}"
    return found


def _authorize(ctx: RequestContext, e: _Entry) -> None:
    """The entry's interaction must be granted (403 otherwise: for the whole of a transaction, for the entry alone
    in a batch); the bounds of the decision are applied entry by entry (`_within_reach`, `_write_within`, the
    read and search interactions)."""
    if ctx.actor is None:
        return
    type_, _, _ = _split_url(e.url, e.index)
    if type_.startswith(("$", "_")) or type_ == "metadata" or "/$" in urlsplit(e.url).path:
        raise forbidden(f"Bundle.entry[{e.index}]: only resource interactions can be authorized in a Bundle.")
    if e.method in ("GET", "HEAD"):
        interaction, type_, _, _ = _reading(e.url, e.index)
    else:
        interaction = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[e.method]
    check_type(type_)
    e.decision = permit(ctx, type_, interaction)


async def _write_within(ctx: RequestContext, e: _Entry, write: Write) -> None:
    """What an entry writes must stay within its scopes' bounds, as on its own (403), and be valid."""
    if write.resource is not None:
        if e.decision is not None:
            check_body_within(ctx, e.decision, e.type, write.resource)
        await check_write(ctx, write.resource, f"Bundle.entry[{e.index}].resource")


async def transaction(ctx: RequestContext, bundle: object) -> Result:
    kind, entries = _entries(bundle)
    if kind == "batch":
        return await _batch(ctx, entries)
    for e in entries:
        _authorize(ctx, e)
    aliases = await _plan(ctx, entries)
    aliases.update(await _resolve_conditional_refs(ctx, entries))
    writes: list[Write] = []
    writing = sorted((e for e in entries if e.method not in ("GET", "HEAD")), key=lambda e: _ORDER[e.method])
    for e in writing:
        if e.resource is not None and not aliases.keys().isdisjoint(e.refs):
            rewrite_references(e.resource, aliases.get)
        if e.method == "DELETE":
            if e.id is not None and e.existing is None:
                e.write = Write("delete", e.type, e.id, None, parse_if_match(e.request.get("ifMatch")))
        elif e.method == "POST":
            if e.existing is None:
                e.write = Write("create", e.type, e.id or "", {**(e.resource or {}), "id": e.id})
        elif e.method == "PUT":
            body = check_body(e.resource, e.type, e.id, need_id=e.request.get("url", "").find("?") < 0)
            e.write = Write("update", e.type, e.id or "", {**body, "id": e.id},
                            parse_if_match(e.request.get("ifMatch")))
        elif e.method == "PATCH":
            e.write = await _patch_write(ctx, e)
        if e.write is not None:
            await _write_within(ctx, e, e.write)
            writes.append(e.write)
    stored = await ctx.store.transact(writes, ctx.notes) if writes else []  # one note for the whole Bundle
    by_write = dict(zip([id(w) for w in writes], stored, strict=True))
    for e in entries:
        if e.method in ("GET", "HEAD"):
            e.result = await _read_entry(ctx, e)
        elif e.write is None:
            e.result = _response(e.existing, "200 OK") if e.existing else {"response": {"status": "204 No Content"}}
        else:
            s = by_write[id(e.write)]
            e.result = _response(s, _status(s, e.method))
    return Result(body={"resourceType": "Bundle", "type": "transaction-response",
                        "entry": [_with_base(ctx, e.result) for e in entries]})


def _status(s: Stored, method: str) -> str:
    if method == "DELETE":
        return "204 No Content" if s.method != "noop" else "200 OK"
    return "201 Created" if s.method == "create" else "200 OK"


def _response(s: Stored | None, status: str) -> dict:
    if s is None:
        return {"response": {"status": status}}
    out: dict = {"response": {"status": status, "location": f"{s.type}/{s.id}/_history/{s.version}",
                              "etag": f'W/"{s.version}"', "lastModified": s.last_updated}}
    if s.json and not s.deleted:
        out["fullUrl"] = f"{s.type}/{s.id}"
        out["resource"] = orjson.Fragment(s.json)
    return out


def _with_base(ctx: RequestContext, result: dict) -> dict:
    if "fullUrl" in result:
        result = {"fullUrl": f"{ctx.base_url}/{result['fullUrl']}", **{k: v for k, v in result.items()
                                                                       if k != "fullUrl"}}
    return result


async def _patch_write(ctx: RequestContext, e: _Entry) -> Write:
    from caregate.interactions.patch_formats import apply_patch
    from caregate.interactions.redact import drop_others_secrets

    current = await ctx.store.read(e.type, e.id or "")
    if current is None or current.deleted:
        raise FhirError("not-found", f"Bundle.entry[{e.index}]: {e.type}/{e.id} does not exist.")
    ops = (e.resource or {}).get("parameter") if e.resource and e.resource.get("resourceType") == "Binary" \
        else None
    if e.resource and e.resource.get("resourceType") == "Binary" and "data" in e.resource:
        import base64

        ops = orjson.loads(base64.b64decode(e.resource["data"]))
    if e.resource and e.resource.get("resourceType") == "Parameters":
        ops = e.resource
    base = orjson.loads(current.json)
    drop_others_secrets(ctx, base)  # as interactions/patch.py
    patched = apply_patch(base, ops, f"Bundle.entry[{e.index}].resource")
    return Write("update", e.type, e.id or "", check_body(patched, e.type, e.id, need_id=True), current.version)


def _reading(url: str, index: int) -> tuple[str, str, list[str], list[tuple[str, str]]]:
    """A GET entry as the REST API routes the same URL: (interaction, the type it is authorized on, the path's
    segments, the query's parameters)."""
    parts = urlsplit(url)
    seg = [s for s in parts.path.strip("/").split("/") if s]
    params = parse_qsl(parts.query, keep_blank_values=True)
    n = len(seg)
    if n == 1:
        return "search-type", seg[0], seg, params
    if n == 2:
        return "history-type" if seg[1] == "_history" else "read", seg[0], seg, params
    if n in (3, 4) and seg[2] == "_history":
        return "history-instance" if n == 3 else "vread", seg[0], seg, params
    if n == 3:
        return "search-type", seg[2], seg, params  # a compartment search: [type]/[id]/[type searched]
    raise incorrect(f"Bundle.entry[{index}].request.url is not a read, history or search URL.",
                    f"Bundle.entry[{index}].request.url")


async def _read_entry(ctx: RequestContext, e: _Entry) -> dict:
    """A GET entry, answered by the interaction the same request on its own goes to."""
    from caregate.interactions.history import history
    from caregate.interactions.read import read, vread
    from caregate.interactions.search import compartment_search, search

    try:
        interaction, _, seg, params = _reading(e.url, e.index)
        if interaction in ("read", "vread"):
            found = await read(ctx, seg[0], seg[1]) if interaction == "read" else \
                await vread(ctx, seg[0], seg[1], seg[3])
            return _response(found.stored, "200 OK")
        if interaction == "history-type" or interaction == "history-instance":
            result = await history(ctx, seg[0], seg[1] if len(seg) == 3 else None, params)
        elif len(seg) == 3:
            result = await compartment_search(ctx, seg[0], seg[1], seg[2], params)
        else:
            result = await search(ctx, seg[0], params)
        return {"resource": result.body, "response": {"status": "200 OK"}}
    except FhirError as exc:
        return _error_response(exc)


def _error_response(exc: FhirError) -> dict:
    code = HTTP_STATUS[exc.category]
    return {"response": {"status": str(code), "outcome": outcome(exc.issues)}}


async def _batch(ctx: RequestContext, entries: list[_Entry]) -> Result:
    """Each entry is its own interaction; failures are reported per entry."""
    results = []
    for e in entries:
        try:
            _authorize(ctx, e)
            results.append(await _batch_entry(ctx, e))
        except FhirError as exc:
            results.append(_error_response(exc))
    return Result(body={"resourceType": "Bundle", "type": "batch-response",
                        "entry": [_with_base(ctx, r) for r in results]})


async def _batch_entry(ctx: RequestContext, e: _Entry) -> dict:
    if e.method in ("GET", "HEAD"):
        return await _read_entry(ctx, e)
    aliases = await _plan(ctx, [e])
    del aliases
    aliases = await _resolve_conditional_refs(ctx, [e])
    if e.resource is not None:
        rewrite_references(e.resource, aliases.get)
    sub = {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(e.method)
    if e.existing is not None:  # a conditional create that matched, or a delete with nothing to do
        return _response(e.existing, "200 OK")
    if e.method == "PATCH":
        w = await _patch_write(ctx, e)
    elif e.method == "DELETE":
        if e.id is None:
            return {"response": {"status": "204 No Content"}}
        w = Write("delete", e.type, e.id, None, parse_if_match(e.request.get("ifMatch")))
    else:
        body = check_body(e.resource, e.type, e.id, need_id=e.method == "PUT" and "?" not in e.url)
        w = Write(sub or "update", e.type, e.id or "", {**body, "id": e.id},
                  parse_if_match(e.request.get("ifMatch")) if e.method == "PUT" else None)
    await _write_within(ctx, e, w)
    s = (await ctx.store.transact([w]))[0]  # no notes: each entry commits alone, audited with the Bundle
    return _response(s, _status(s, e.method))
