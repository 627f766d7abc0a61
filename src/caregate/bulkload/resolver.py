"""Resolving the conditional references of a load against the loaded files first, then the store.

The rule is the transaction rule (https://hl7.org/fhir/R4/http.html#trules): a conditional reference must
match exactly one resource; none or several is an error for each record that uses it. A load differs from
one transaction in that its targets may sit in any file, before or after the records that point at them,
so the loader works in passes:

1. `scan` collects the distinct conditional references (bytes regex, no JSON parsing);
2. `index_record` records, for the types and identifiers those references ask for only, which ids carry
   them; a target with no id of its own is given one now (`pinned`), which the load pass then uses;
3. `resolve` settles every reference: by the index when the loaded files hold a match, else by searching
   the store (`caregate.interactions.search.find`, the same search conditional interactions use).

Memory grows with the number of distinct references and their targets, never with the number of records.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from caregate.bulkload import conditional
from caregate.bulkload.bundles import entries, kind, transaction_targets, valid_id
from caregate.bulkload.conditional import Criteria, IdentifierKey, identifier_keys, parse_criteria
from caregate.bulkload.records import Record, RecordError
from caregate.errors import FhirError
from caregate.fhir.definitions import is_resource_type
from caregate.interactions.context import RequestContext
from caregate.interactions.references import is_conditional, rewrite_references
from caregate.interactions.search import find

Place = tuple[int, int, int | None]  # (file number, line, Bundle.entry index or None)


class Resolver:
    def __init__(self, ctx: RequestContext, new_id: Callable[[], str]) -> None:
        self.ctx = ctx
        self.new_id = new_id
        self.refs: set[str] = set()
        self.pinned: dict[Place, str] = {}
        self._wanted: dict[str, set[IdentifierKey]] = {}
        self._markers: list[bytes] = []
        self._found: dict[tuple[str, IdentifierKey], set[str]] = {}
        self._targets: dict[str, str] = {}
        self._errors: dict[str, str] = {}

    # -- pass 1 ------------------------------------------------------------------------------------
    def scan(self, raw: bytes) -> None:
        conditional.scan(raw, self.refs)

    def plan(self) -> bool:
        """After the scan: True when some references can be matched against the loaded files."""
        for ref in self.refs:
            crit = parse_criteria(ref)
            if crit.key is not None and is_resource_type(crit.type):
                self._wanted.setdefault(crit.type, set()).add(crit.key)
        self._markers = conditional.type_markers(self._wanted)
        return bool(self._wanted)

    # -- pass 2 ------------------------------------------------------------------------------------
    def may_hold_target(self, raw: bytes) -> bool:
        return any(marker in raw for marker in self._markers)

    async def index_record(self, record: Record, doc: dict) -> None:
        where = (record.file_no, record.line)
        what = kind(doc)
        if what == "resource":
            self._index(doc, doc.get("id"), (*where, None))
        elif what == "entries":
            for e in entries(doc):
                if e.resource is not None:
                    self._index(e.resource, e.resource.get("id"), (*where, e.index))
        else:
            for t in transaction_targets(doc):
                if t.resource.get("resourceType") != t.type or not self._keys(t.resource):
                    continue
                id_ = t.id
                if id_ is None and t.criteria is not None:
                    try:
                        matches = await find(self.ctx, t.type, parse_qsl(t.criteria, keep_blank_values=True))
                    except FhirError:
                        continue
                    if len(matches) > 1:
                        continue  # the transaction itself fails on this entry
                    if matches:
                        id_ = matches[0].id
                if id_ is None:
                    # A conditional PUT that matches nothing creates with the resource's own id, if any.
                    own = t.resource.get("id") if t.method == "PUT" else None
                    id_ = self.pinned.setdefault((*where, t.index), own if valid_id(own) else self.new_id())
                self._index(t.resource, id_, (*where, t.index))

    def _keys(self, resource: dict) -> list[IdentifierKey]:
        wanted = self._wanted.get(resource.get("resourceType"))  # type: ignore[arg-type]
        return list(identifier_keys(resource, wanted)) if wanted else []

    def _index(self, resource: dict, id_: object, place: Place) -> None:
        keys = self._keys(resource)
        if not keys:
            return
        if id_ is None:
            id_ = self.pinned.setdefault(place, self.new_id())
        elif not valid_id(id_):
            return  # the record fails on its own when loaded: nothing may point at it
        type_ = resource["resourceType"]
        for key in keys:
            self._found.setdefault((type_, key), set()).add(str(id_))

    # -- resolution --------------------------------------------------------------------------------
    async def resolve(self) -> None:
        for ref in self.refs:
            try:
                await self._resolve(parse_criteria(ref))
            except RecordError:
                continue  # kept in `_errors`, reported with each record that uses it
        self._found.clear()

    async def _resolve(self, crit: Criteria) -> str:
        ref = crit.ref
        ids = self._found.get((crit.type, crit.key)) if crit.key is not None else None
        if ids:
            if len(ids) == 1:
                self._targets[ref] = f"{crit.type}/{next(iter(ids))}"
                return self._targets[ref]
            raise self._fail(ref, f"matches {len(ids)} resources in the files being loaded")
        if not is_resource_type(crit.type):
            raise self._fail(ref, f"searches '{crit.type}', which is not a FHIR R4 resource type")
        try:
            matches = await find(self.ctx, crit.type, crit.params)
        except FhirError as exc:
            raise self._fail(ref, f"cannot be searched: {exc}") from None
        if len(matches) != 1:
            how = "no resource" if not matches else "more than one resource"
            raise self._fail(ref, f"matches {how} in the files being loaded or in the store")
        self._targets[ref] = f"{crit.type}/{matches[0].id}"
        return self._targets[ref]

    def _fail(self, ref: str, why: str) -> RecordError:
        self._errors[ref] = f"the conditional reference {ref!r} {why}; it must match exactly one"
        return RecordError(self._errors[ref])

    async def target(self, ref: str) -> str:
        """`Type/id` for a conditional reference, or a `RecordError` for the record that uses it."""
        if ref in self._targets:
            return self._targets[ref]
        if ref in self._errors:
            raise RecordError(self._errors[ref])
        return await self._resolve(parse_criteria(ref))  # one the scan could not see (odd escaping)

    # -- load pass ---------------------------------------------------------------------------------
    def rewrite_raw(self, raw: bytes) -> bytes | None:
        """`raw` with its conditional references replaced by their targets, before it is parsed; raises
        `RecordError` for one that does not resolve, and gives None for one the scan did not see (the
        file changed since), which `rewrite` then resolves on the parsed record."""
        unseen = False

        def replace(ref: str) -> str | None:
            nonlocal unseen
            hit = self._targets.get(ref)
            if hit is None:
                if ref in self._errors:
                    raise RecordError(self._errors[ref])
                unseen = True
            return hit

        out = conditional.substitute(raw, replace)
        return None if unseen else out

    async def rewrite(self, node: dict, aliases: dict[str, str] | None = None) -> None:
        """Replace the conditional references in `node` (and any `aliases`) by the references they
        resolve to; raises `RecordError` for the first one that does not resolve (the record is then
        skipped, so it does not matter what was already replaced). One walk in the usual case."""
        targets = self._targets
        unknown: list[str] = []

        def resolve(ref: str) -> str | None:
            if aliases and ref in aliases:
                return aliases[ref]
            if not is_conditional(ref):
                return None
            hit = targets.get(ref)
            if hit is None:
                unknown.append(ref)
            return hit

        rewrite_references(node, resolve)
        if unknown:
            for ref in unknown:
                await self.target(ref)  # raises for a reference that does not resolve
            rewrite_references(node, resolve)
