"""CodeSystems, ValueSets and ConceptMaps stored on the server, kept in step with the terminology library.

The terminology operations and validation bindings use the resources stored on this server (POSTed, or loaded
with `caregate load`) beside the shipped content (`caregate.fhir.terminology.content.use_stored`). They are
read when first needed, and read again when the change log shows one of them was written since. The
terminology operations look at the change log on every call; validation of writes at most once a second,
and on the next call after it validated one of these resources, so a write that needs no terminology pays
nothing in the common case. Every worker process notices writes made by any other.
Conformance resources are not patient data, so they are read from the store directly, not through the
requesting user's access policy.
"""

from __future__ import annotations

import asyncio
import time
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
        self.checked = 0.0  # time.monotonic() of the last look at the change log
        self.dirty = False  # one of TYPES was validated for writing: look at the change log next time


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


async def refresh_stored_terminology(store: ResourceStore, writing: object = None, every: float = 0.0) -> None:
    """Make the terminology library's stored layer match `store` (see the module docstring): look at the
    change log unless it was looked at less than `every` seconds ago. `writing` is a resource about to be
    written; when it is a terminology resource, the next call looks whatever `every` says."""
    layer = _LAYER
    now = time.monotonic()
    if layer.store is store and not layer.dirty and now - layer.checked < every:
        return
    layer.checked, layer.dirty = now, False
    if isinstance(writing, dict) and writing.get("resourceType") in TYPES:
        layer.dirty = True
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
