"""The storage contract: one interface, two engines (SQLite embedded, PostgreSQL production).

A store keeps every version of every resource, the search index rows of the current versions, and a change
log with a rising transaction number `t` (the truth that subscriptions read, after Blaze's design). It knows
nothing of HTTP: errors are `caregate.errors.FhirError` categories.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from caregate.search.query import SearchQuery
from caregate.search.viewer import Viewer

Method = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class Stored:
    """One version of a resource as stored. `json` is the serialised resource (meta filled in); empty when
    the version is a deletion."""

    type: str
    id: str
    version: int
    last_updated: str
    deleted: bool
    json: bytes
    t: int = 0
    method: str = "update"
    rid: int = 0  # the store's surrogate key, when the store gave it (search results)
    container: str | None = None  # `Type/id` holding this contained resource (search.html#contained)


@dataclass(frozen=True, slots=True)
class Write:
    """One change inside an atomic transaction.

    `if_match` is the version the writer last saw (https://hl7.org/fhir/R4/http.html#concurrency); a
    mismatch fails the whole transaction with a `precondition` error. `if_none_exist` on a create is
    resolved by the caller before the write.
    """

    method: Method
    type: str
    id: str
    resource: dict | None = None
    if_match: int | None = None
    must_exist: bool = False  # an update that must not create


Notes = Callable[[Sequence[Stored]], Sequence[tuple[str, bytes]]]
"""Called inside a write's transaction with the versions it wrote: the (topic, body) notes committed with it in
the outbox (see `caregate.storage.outbox`)."""


@dataclass(slots=True)
class Page:
    """One page of search or history results."""

    items: list[Stored]
    total: int | None = None
    next_cursor: str | None = None
    prev_cursor: str | None = None
    included: list[Stored] = field(default_factory=list)
    includes_capped: bool = False  # more included resources exist than the page carries


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    type: str | None = None
    id: str | None = None
    since_us: int | None = None
    count: int = 20
    cursor: str | None = None
    confine: str | None = None  # a patient id: only resources now in that patient's compartment
    refused: str | None = None  # a purpose of use: no versions of patients who now refuse it (opt-out)
    viewer: Viewer | None = None  # a member of staff: no versions of patients now outside their reach
    hidden: tuple[tuple[str, ...], ...] = ()  # security labels: no versions now carrying one (Sight.hidden)


@dataclass(frozen=True, slots=True)
class Change:
    """One version in the change log. A `ChangeFeed` also carries the version itself (`json`, b"" for a
    deletion; None when not carried) so a reader needs no read per change."""

    t: int
    type: str
    id: str
    version: int
    method: str
    last_updated: str = ""
    json: bytes | None = None


class ChangeFeed(Protocol):
    """One reader's position in the change log; hands out changes in `t` order, each only once no change
    with a smaller `t` can still commit (see `caregate.storage.changefeed`)."""

    cursor: int  # the last `t` handed out
    settling: bool  # a change is held back until an earlier one is final: call `next` again soon

    async def head(self) -> int:
        """The newest `t` at or before which every change is final."""
        ...

    async def next(self, limit: int = 1000) -> list[Change]:
        """The changes of the next whole transactions (at most `limit` of them) after `cursor`."""
        ...

    async def wait(self, timeout: float) -> None:
        """Return when a write may have committed since, or after `timeout` seconds."""
        ...

    async def close(self) -> None: ...


class ResourceStore(Protocol):
    """What interactions need from a database; implemented by `SqliteStore` and `PostgresStore`."""

    async def read(self, type_: str, id_: str) -> Stored | None: ...

    async def vread(self, type_: str, id_: str, version: int) -> Stored | None: ...

    async def transact(self, writes: Sequence[Write], notes: Notes | None = None) -> list[Stored]:
        """Apply `writes` in one database transaction, with the outbox notes `notes` gives for them."""
        ...

    def transact_sync(self, writes: Sequence[Write], notes: Notes | None = None) -> list[Stored]:
        """The same atomic write for callers outside the event loop (bulk loading, tools)."""
        ...

    async def search(self, query: SearchQuery) -> Page: ...

    async def history(self, query: HistoryQuery) -> Page: ...

    async def changes(self, after_t: int, limit: int = 1000) -> list[Change]: ...

    def change_feed(self, after_t: int = 0) -> ChangeFeed: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
