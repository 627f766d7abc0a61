"""Which subscriptions one change may concern, found without testing every subscription.

Thousands of subscriptions typically share a few topics and differ by patient (`Observation?patient=
Patient/123`). Testing each subscription's filters on every change would cost O(subscriptions) per write;
instead subscriptions are grouped by topic and resource type, and those with a plain reference filter
(`code=Type/id`, no modifier, one value) are keyed by that reference, so a change for one patient is tested
against that patient's subscriptions and the few without such a filter. The index only narrows the
candidates: each is still tested with its full filters (`model.FilterSet`), so the answer is the same as
testing every subscription.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from caregate.search.match import Indexed
from caregate.search.registry import Registry
from caregate.subscriptions.model import split_filter

if TYPE_CHECKING:
    from caregate.subscriptions.events import Tracked

_RELATIVE = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")
Key = tuple[str, str]  # (parameter code, `Type/id`)


class _Group:
    """The subscriptions of one topic for one resource type."""

    __slots__ = ("codes", "keyed", "rest")

    def __init__(self) -> None:
        self.keyed: dict[Key, dict[str, Tracked]] = {}
        self.rest: dict[str, Tracked] = {}
        self.codes: dict[str, int] = {}  # parameter codes used by keys -> how many keys use them


class Routes:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._groups: dict[tuple[str, str], _Group] = {}  # (topic name, resource type)
        self._placed: dict[str, list[tuple[tuple[str, str], Key | None]]] = {}  # sub id -> where it was put
        self._types: dict[str, int] = {}  # resource type -> subscriptions watching it

    def watches(self, resource_type: str) -> bool:
        return self._types.get(resource_type, 0) > 0

    def _key(self, resource_type: str, filters: tuple[str, ...]) -> Key | None:
        """A plain reference filter that applies to `resource_type`, if the subscription has one."""
        for text in filters:
            rtype, pairs = split_filter(text)
            if rtype not in (None, resource_type):
                continue
            for name, value in pairs:
                param = self.registry.get(resource_type, name)
                if param is not None and param.type == "reference" and _RELATIVE.fullmatch(value):
                    return name, value
        return None

    def add(self, tracked: Tracked) -> None:
        spec = tracked.spec
        self.remove(spec.id)
        if spec.topic is None or tracked.filters is None:
            return
        named = {t for t in (split_filter(f)[0] for f in spec.filters) if t is not None}
        places = []
        for rtype in sorted(spec.topic.resource_types):
            if named and rtype not in named:
                continue  # filters naming other types only: never delivered (model.FilterSet)
            where = (spec.topic.name, rtype)
            group = self._groups.setdefault(where, _Group())
            key = self._key(rtype, spec.filters)
            if key is None:
                group.rest[spec.id] = tracked
            else:
                group.keyed.setdefault(key, {})[spec.id] = tracked
                group.codes[key[0]] = group.codes.get(key[0], 0) + 1
            self._types[rtype] = self._types.get(rtype, 0) + 1
            places.append((where, key))
        self._placed[spec.id] = places

    def remove(self, sub_id: str) -> None:
        for where, key in self._placed.pop(sub_id, ()):
            group = self._groups[where]
            self._types[where[1]] -= 1
            if key is None:
                group.rest.pop(sub_id, None)
                continue
            subs = group.keyed.get(key, {})
            subs.pop(sub_id, None)
            if not subs:
                group.keyed.pop(key, None)
            group.codes[key[0]] -= 1
            if not group.codes[key[0]]:
                del group.codes[key[0]]

    def candidates(self, topic: str, resource_type: str, focus: Indexed) -> Iterator[Tracked]:
        """The subscriptions of `topic` that might want this change of `focus` (each to be tested in full)."""
        group = self._groups.get((topic, resource_type))
        if group is None:
            return
        yield from list(group.rest.values())
        seen: set[str] = set()
        for code in list(group.codes):
            for row in focus.values("reference", code):
                rtype, rid = row[0], row[1]
                if not rtype or not rid:
                    continue
                for sub_id, tracked in list(group.keyed.get((code, f"{rtype}/{rid}"), {}).items()):
                    if sub_id not in seen:
                        seen.add(sub_id)
                        yield tracked
