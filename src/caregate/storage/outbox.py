"""The outbox: notes a write leaves for another component, committed in the write's own transaction.

A component that must act on every write (the audit trail, for one) cannot do so reliably after the write has
committed: if it fails then, the write stands and its follow-up is lost. Instead the write carries a `Notes`
callback; the store calls it inside the write's transaction with the versions written, and inserts the
(topic, body) pairs it returns into the `outbox` table in that same transaction. The write and its notes
commit together or not at all. The reader of a topic later takes its notes out with `take`, in its own
transaction, and acts on them there.

Bodies are opaque bytes to the store: it neither reads nor interprets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from caregate.storage.base import Notes, Stored
from caregate.storage.sql.dialect import Dialect

__all__ = ["Notes", "put", "take"]

INSERT = "INSERT INTO outbox (topic, body) VALUES (?, ?)"
_TAKE = "DELETE FROM outbox WHERE topic = ? RETURNING id, body"


def put(cur: Any, d: Dialect, notes: Notes, written: Sequence[Stored]) -> None:
    """Inside the write's transaction: insert the notes `notes` gives for the versions `written`."""
    rows = [(topic, bytes(body)) for topic, body in notes(written)]
    if rows:
        cur.executemany(d.sql(INSERT), rows)


def take(conn: Any, postgres: bool, topic: str) -> list[bytes]:
    """Inside the reader's transaction: remove every committed note of `topic` and return their bodies, oldest
    first. One DELETE ... RETURNING, so exactly the rows returned are removed, even when another write commits
    a note meanwhile (it is left for the next time)."""
    sql = _TAKE.replace("?", "%s") if postgres else _TAKE
    rows = conn.execute(sql, (topic,)).fetchall()
    return [bytes(body) for _, body in sorted(rows, key=lambda row: row[0])]
