"""Events and their numbers, derived from the change log (the durable truth) deterministically.

The store writes a change-log row in the same transaction as every resource version, so a committed write
is never missed and a rolled-back one never seen. Following the log in order of `t`, each change of a type
some topic watches is tested against the topics' triggers (on the previous and the current version, both
read back with `vread`) and each subscription's filters; a match is the subscription's next event
(R5 `SubscriptionStatus.eventsSinceSubscriptionStart`, carried by the backport as
`events-since-subscription-start`; http://hl7.org/fhir/uv/subscriptions-backport/notifications.html).

A subscription's count starts at the change that created it, or that last changed its topic or filters.
Every input is an immutable stored version, so any process replaying the log from that point derives the
same events with the same numbers: after a crash, in another worker, or in `caregate subscriptions`.

Order: the store's `ChangeFeed` hands changes out in `t` order and only once no change with a smaller `t`
can still commit (on PostgreSQL a later transaction may commit first; the feed holds it back until the
earlier one has committed or provably never will), so the numbering never depends on timing.

Memory: a subscription keeps its event count, its last `WINDOW` events (what a courier or websocket that
keeps up needs) and at most `MARKS` bookmarks (event number -> `t`). Older events are derived again from
the log when asked for (`events()`): from the nearest bookmark, a page of `batch` transactions at a time,
so a subscription far behind, or `$events` from number 1, never holds more than a page in memory.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from caregate.errors import FhirError
from caregate.fhir.definitions import patient_compartment
from caregate.policy.rules import Policy
from caregate.search.match import Indexed
from caregate.search.query import parse
from caregate.storage.base import Change, ChangeFeed, HistoryQuery, ResourceStore, Stored
from caregate.subscriptions.access import OwnerAccess
from caregate.subscriptions.fanout import Routes
from caregate.subscriptions.model import FilterSet, Spec, read_spec
from caregate.subscriptions.topics import TopicCatalog

log = logging.getLogger("caregate.subscriptions")


@dataclass(frozen=True, slots=True)
class Event:
    """One notification event: the subscription's event number and the resource version that caused it."""

    number: int
    t: int
    type: str
    id: str
    version: int
    method: str
    timestamp: str
    patients: tuple[str, ...] = ()  # ids of the patients whose compartment the focus is in (for the audit)


WINDOW = 100  # recent events kept per subscription: at least a notification's worth (Policy.max_count)
MARKS = 32  # bookmarks kept per subscription; when full, every other one goes and the spacing doubles
STRIDE = 1000  # events between bookmarks at first


@dataclass(slots=True)
class Tracked:
    """A subscription as the log has shown it so far: its event count, its newest events, and bookmarks
    (the number of the first event of a transaction, and that transaction's `t`) to find older ones."""

    spec: Spec
    start_t: int
    filters: FilterSet | None
    access: OwnerAccess | None = None  # the owner's read bounds; None: an unowned subscription, unbounded
    count: int = 0
    recent: deque[Event] = field(default_factory=lambda: deque(maxlen=WINDOW))
    marks: list[tuple[int, int]] = field(default_factory=list)
    stride: int = STRIDE

    def add(self, change: Change, stamp: str, patients: tuple[str, ...] = ()) -> None:
        """Count `change` as the next event."""
        self.count += 1
        last = self.recent[-1] if self.recent else None
        if (last is None or last.t != change.t) and self.count - (self.marks[-1][0] if self.marks else 1) >= \
                self.stride:
            self.marks.append((self.count, change.t))
            if len(self.marks) > MARKS:
                self.marks[:] = self.marks[1::2]
                self.stride *= 2
        self.recent.append(Event(self.count, change.t, change.type, change.id, change.version, change.method,
                                 stamp, patients))

    def seek(self, number: int) -> tuple[int, int]:
        """(first event number, `t`) of the bookmark to replay from to reach event `number`; (1, start_t)
        when no bookmark precedes it."""
        i = bisect.bisect_right(self.marks, (number, float("inf"))) - 1
        return self.marks[i] if i >= 0 else (1, self.start_t)


@dataclass(slots=True)
class Reads:
    """What re-deriving past events read from the log: how many pages, and the most rows and transactions
    one page held (bounded by `EventIndex.batch` transactions, whatever the subscription's backlog)."""

    pages: int = 0
    most_rows: int = 0
    most_transactions: int = 0

    def note(self, changes: list[Change]) -> None:
        self.pages += 1
        self.most_rows = max(self.most_rows, len(changes))
        self.most_transactions = max(self.most_transactions, len({c.t for c in changes}))


def patients_of(resource_type: str, focus: Indexed) -> tuple[str, ...]:
    """The patients whose compartment a resource is in (compartmentdefinition-patient)."""
    if resource_type == "Patient":
        return (focus.id,) if focus.id else ()
    found = {row[1] for code in patient_compartment().get(resource_type, ())
             for row in focus.values("reference", code) if row[0] == "Patient" and row[1]}
    return tuple(sorted(found))


def _in_order(group: list[Change]) -> list[Change]:
    """One transaction's changes in a repeatable order: the store's, with several versions of one resource
    (written twice in one Bundle, so sharing its row) by version."""
    first: dict[tuple[str, str], int] = {}
    for i, c in enumerate(group):
        first.setdefault((c.type, c.id), i)
    return sorted(group, key=lambda c: (first[(c.type, c.id)], c.version))


def _filters(spec: Spec, catalog: TopicCatalog) -> FilterSet | None:
    if spec.topic is None:
        return None
    try:
        return FilterSet(spec, catalog)
    except FhirError:
        return None


class EventIndex:
    """Follows the change log; `catch_up()` brings `subs` up to the newest final change."""

    def __init__(self, store: ResourceStore, catalog: TopicCatalog, *, batch: int = 1000,
                 rules: Policy | None = None) -> None:
        self.store = store
        self.catalog = catalog
        self.rules = rules  # the access policy's roles and labels, binding owners' notifications
        self.batch = batch
        self.subs: dict[str, Tracked] = {}
        self.routes = Routes(catalog.registry)
        self.generation = 0  # rises whenever a subscription is added, changed or removed
        self.feed: ChangeFeed | None = None  # None until bootstrapped
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[set[str]], None]] = []
        self.reads = Reads()

    @property
    def cursor(self) -> int | None:
        """The last `t` applied; None until bootstrapped."""
        return self.feed.cursor if self.feed is not None else None

    def listen(self, callback: Callable[[set[str]], None]) -> Callable[[], None]:
        """Call `callback(ids)` with the subscriptions that changed or gained events; returns the remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    async def catch_up(self) -> None:
        async with self._lock:
            if self.feed is None:
                self.feed = await self._bootstrap()
            touched: set[str] = set()
            try:
                held = 0
                while True:
                    before = self.feed.cursor
                    changes = await self.feed.next(self.batch)
                    for _, group in itertools.groupby(changes, key=lambda c: c.t):
                        for change in _in_order(list(group)):
                            await self._apply(change, touched)
                    if self.feed.cursor == before:
                        if not self.feed.settling or held >= 20:
                            break
                        held += 1  # an earlier transaction is still in flight: it usually ends within ms
                        await asyncio.sleep(0.005)
            finally:
                if touched:
                    for callback in list(self._listeners):
                        callback(touched)

    async def wait(self, timeout: float) -> None:
        """Until a write may have committed (the store's wake-up), or `timeout` seconds."""
        if self.feed is None:
            await asyncio.sleep(0)
            return
        await self.feed.wait(timeout)

    async def close(self) -> None:
        if self.feed is not None:
            await self.feed.close()

    # -- past events ---------------------------------------------------------------------------------------
    async def events(self, tracked: Tracked, low: int, high: int) -> list[Event]:
        """Events `low`..`high` (inclusive, within the count) of `tracked`; callers ask for a page at a time.
        The recent ones come from memory, older ones are derived again from the log (module docstring)."""
        low, high = max(low, 1), min(high, tracked.count)
        if high < low:
            return []
        oldest = tracked.count - len(tracked.recent) + 1
        if low >= oldest:
            return list(itertools.islice(tracked.recent, low - oldest, high - oldest + 1))
        return await self._replay(tracked, low, high)

    async def readable(self, tracked: Tracked, events: list[Event]) -> list[Event]:
        """The events whose focus the subscription's owner may read now: what a notification, a websocket frame
        or `$events` may carry (an event counted when its owner could read it may since have gone out of reach;
        it is left out, a gap in the numbers as for any event not carried)."""
        if tracked.access is None or not events:
            return events
        by_type: dict[str, set[str]] = {}
        for e in events:
            by_type.setdefault(e.type, set()).add(e.id)
        readable = {(type_, id_) for type_, ids in by_type.items()
                    for id_ in await tracked.access.still_readable(type_, ids)}  # one query per type
        return [e for e in events if (e.type, e.id) in readable]

    async def _replay(self, tracked: Tracked, low: int, high: int) -> list[Event]:
        first, t = tracked.seek(low)
        number = first - 1  # events counted before transaction `t`
        upto = self.cursor or 0  # every event counted so far comes from a change at or before it
        found: list[Event] = []
        feed = self.store.change_feed(t - 1)
        trust = getattr(feed, "trust", None)
        if trust is not None:
            trust(upto)  # the index has passed it, so every hole below is final: no need to wait on them
        try:
            while feed.cursor < upto and number < high:
                before = feed.cursor
                changes = await feed.next(self.batch)
                self.reads.note(changes)
                for group_t, group in itertools.groupby(changes, key=lambda c: c.t):
                    ordered = _in_order(list(group))
                    if group_t > upto:
                        break
                    if group_t == tracked.start_t:  # the count starts after the subscription's own change
                        sub_id = tracked.spec.id
                        mine = [i for i, c in enumerate(ordered) if c.type == "Subscription" and c.id == sub_id]
                        ordered = ordered[mine[0] + 1:] if mine else ordered
                    for change in ordered:
                        fired = await self._fires_for(tracked, change)
                        if fired is None:
                            continue
                        number += 1
                        if number >= low:
                            found.append(Event(number, change.t, change.type, change.id, change.version,
                                               change.method, *fired))
                        if number >= high:
                            return found
                if feed.cursor == before:
                    if not feed.settling:
                        break
                    await asyncio.sleep(0.005)
        finally:
            await feed.close()
        return found

    async def _fires_for(self, tracked: Tracked, change: Change) -> tuple[str, tuple[str, ...]] | None:
        """The change's timestamp and patients when it is an event of `tracked` (the test `_apply` makes)."""
        topic = tracked.spec.topic
        if topic is None or tracked.filters is None or change.type not in topic.resource_types:
            return None
        previous, current, stamp = await self._versions(change)
        focus = current or previous
        if focus is None or topic.name not in self.catalog.fired(change.type, change.method, previous, current):
            return None
        if not tracked.filters(change.type, focus):
            return None
        if tracked.access is not None and not await tracked.access.may_read(change.type, change.id, focus):
            return None
        return stamp, patients_of(change.type, focus)

    # -- start ---------------------------------------------------------------------------------------------
    async def _bootstrap(self) -> ChangeFeed:
        """Where replay starts: just before the oldest current subscription's count began (or at the head)."""
        probe = self.store.change_feed(0)
        try:
            start = await probe.head()
        finally:
            await probe.close()
        for sub in await self._current_subscriptions():
            start = min(start, await self._count_start(sub.id) - 1)
        return self.store.change_feed(max(start, 0))

    async def _current_subscriptions(self) -> list[Stored]:
        query = parse("Subscription", [("_count", "500")], self.catalog.registry)
        query.total = "none"
        found: list[Stored] = []
        while True:
            page = await self.store.search(query, 500)  # type: ignore[call-arg]
            found += page.items
            if not page.next_cursor:
                return found
            query.cursor = page.next_cursor

    async def _count_start(self, id_: str) -> int:
        """`t` of the oldest version in the unbroken run of versions with today's topic and filters."""
        start, key, cursor = 0, None, None
        while True:
            page = await self.store.history(HistoryQuery(type="Subscription", id=id_, count=200, cursor=cursor))
            for version in page.items:  # newest first
                if version.deleted:
                    return start
                vkey = read_spec(orjson.loads(version.json), self.catalog).criteria_key
                if key is not None and vkey != key:
                    return start
                key, start = vkey, version.t
            if not page.next_cursor:
                return start
            cursor = page.next_cursor

    def _access(self, spec: Spec) -> OwnerAccess | None:
        if spec.owner is None:
            return None
        return OwnerAccess(spec.owner[0], spec.owner[1], self.rules, self.store, self.catalog.registry,
                           self.catalog.base_url)

    async def _apply(self, change: Change, touched: set[str]) -> None:
        if change.type == "Subscription":
            await self._apply_subscription(change, touched)
            return
        if not self.routes.watches(change.type):
            return
        previous, current, stamp = await self._versions(change)
        fired = self.catalog.fired(change.type, change.method, previous, current)
        focus = current or previous
        if not fired or focus is None:
            return
        for topic in sorted(fired):
            for sub in self.routes.candidates(topic, change.type, focus):
                assert sub.filters is not None
                if sub.filters(change.type, focus) and (
                        sub.access is None or await sub.access.may_read(change.type, change.id, focus)):
                    sub.add(change, stamp, patients_of(change.type, focus))
                    touched.add(sub.spec.id)

    async def _versions(self, change: Change) -> tuple[Indexed | None, Indexed | None, str]:
        """The version before the change (None for a create) and after it (None for a delete), indexed."""
        registry = self.catalog.index_registry
        if change.json is None:  # a feed that does not carry the version: read it
            this = await self.store.vread(change.type, change.id, change.version)
            stamp, data = (this.last_updated, b"" if this.deleted else this.json) if this is not None else ("", b"")
        else:
            stamp, data = change.last_updated, change.json
        current = None
        if data and change.method != "delete":
            current = Indexed(orjson.loads(data), registry)
        previous = None
        if change.version > 1 and change.method != "create" and self.catalog.needs_previous(change.type):
            before = await self.store.vread(change.type, change.id, change.version - 1)
            if before is not None and not before.deleted:
                previous = Indexed(orjson.loads(before.json), registry)
        return previous, current, stamp

    async def _apply_subscription(self, change: Change, touched: set[str]) -> None:
        touched.add(change.id)
        self.generation += 1
        if change.method == "delete":
            self.subs.pop(change.id, None)
            self.routes.remove(change.id)
            return
        data = change.json
        if data is None:
            stored = await self.store.vread("Subscription", change.id, change.version)
            data = b"" if stored is None or stored.deleted else stored.json
        if not data:
            return
        spec = read_spec(orjson.loads(data), self.catalog)
        known = self.subs.get(change.id)
        if known is None or known.spec.criteria_key != spec.criteria_key:
            tracked = self.subs[change.id] = Tracked(spec, change.t, _filters(spec, self.catalog),
                                                     self._access(spec))
            self.routes.add(tracked)
        else:
            known.spec = spec
