"""Storage: the `ResourceStore` contract and its engines, chosen by database URL."""

from __future__ import annotations

from caregate.clock import Clock
from caregate.storage.base import Change, HistoryQuery, Page, ResourceStore, Stored, Write

__all__ = ["Change", "HistoryQuery", "Page", "ResourceStore", "Stored", "Write", "open_store"]


def open_store(url: str, clock: Clock | None = None) -> ResourceStore:
    """Open (and migrate) the store a database URL names: `sqlite:///file` or `postgresql://...`."""
    if url.startswith("sqlite:///"):
        from caregate.storage.sqlite import SqliteStore

        return SqliteStore.from_url(url, clock)
    if url.startswith(("postgresql://", "postgres://")):
        from caregate.storage.postgres import PostgresStore

        return PostgresStore.from_url(url, clock)
    raise ValueError(f"Unsupported database URL {url!r}: use sqlite:///path or postgresql://...")
