"""CodeSystems, ValueSets and ConceptMaps stored on the server, kept in step with the terminology library.

The terminology operations and validation bindings use the resources stored on this server (POSTed, or loaded
with `caregate load`) beside the shipped content (`caregate.fhir.terminology.content.use_stored`). They are
read when first needed, and read again when the change log shows one of them was written since: every
worker process notices writes made by any other, at the cost of one indexed change-log query per use.
Conformance resources are not patient data, so they are read from the store directly, not through the
requesting user's access policy.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from caregate.fhir.terminology.content import use_stored
from caregate.search.query import SearchQuery
from caregate.storage.base import ResourceStore

__all__ = ["TYPES", "refresh_stored_terminology"]

TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
_PAGE = 500


class _Layer:
    """Where this process is in the store's change log, for the store whose resources are layered in."""

    def __init__(self) -> None:
        self.store: ResourceStore | None = None
        self.t = 0
        self.lock = asyncio.Lock()


_LAYER = _Layer()


async def _all_stored(store: ResourceStore) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for type_ in TYPES:
        cursor = None
        while True:
            page = await store.search(SearchQuery(type_, count=_PAGE, cursor=cursor), _PAGE)  # type: ignore[call-arg]
            out.extend(orjson.loads(s.json) for s in page.items if s.json)
            cursor = page.next_cursor
            if not cursor or not page.items:
                break
    return out


async def _changed(store: ResourceStore, after_t: int) -> tuple[bool, int]:
    """Whether a terminology resource was written after `after_t`, and the newest `t` seen."""
    changed = False
    while True:
        changes = await store.changes(after_t, _PAGE)
        if not changes:
            return changed, after_t
        changed = changed or any(c.type in TYPES for c in changes)
        after_t = changes[-1].t
        if len(changes) < _PAGE:
            return changed, after_t


async def refresh_stored_terminology(store: ResourceStore) -> None:
    """Make the terminology library's stored layer match `store` (see the module docstring)."""
    layer = _LAYER
    if layer.store is store:
        changed, t = await _changed(store, layer.t)
        if not changed:
            layer.t = t
            return
    async with layer.lock:
        if layer.store is not store:
            feed = store.change_feed(0)
            try:
                head = await feed.head()
            finally:
                await feed.close()
        else:
            _, head = await _changed(store, layer.t)
        use_stored(await _all_stored(store))
        layer.store, layer.t = store, head
