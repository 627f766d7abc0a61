"""The hash chain: each record's hash is SHA-256 over the previous record's hash and its own canonical JSON.

Editing a record changes its hash; deleting or reordering records breaks the link to the previous hash and
the run of sequence numbers (each record's `id` is its sequence number, inside the hashed JSON). Deleting the
newest records cannot be seen from the chain alone: that needs the last hash kept somewhere else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

GENESIS = "0" * 64  # the "previous hash" of the first record


def canonical(event: dict) -> bytes:
    """Sorted keys, no whitespace: the same bytes for the same content whatever the key order."""
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def link(previous: str, body: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + body).hexdigest()


@dataclass(frozen=True, slots=True)
class Broken:
    """The first record where the chain fails, and why."""

    seq: int
    reason: str


def verify(rows: Iterable[tuple[int, bytes | str, str]]) -> tuple[int, Broken | None]:
    """Walk (seq, json, hash) rows in seq order: the count checked, and the first broken record or None."""
    previous = GENESIS
    expected = 1
    count = 0
    for seq, body, stored_hash in rows:
        raw = body.encode() if isinstance(body, str) else bytes(body)
        if seq != expected:
            return count, Broken(expected, f"record {expected} is missing (the next one is {seq}): deleted")
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return count, Broken(seq, f"record {seq} is not valid JSON: edited")
        if not isinstance(event, dict) or event.get("id") != str(seq):
            return count, Broken(seq, f"record {seq} holds the content of record {event.get('id')!r}: reordered"
                                 if isinstance(event, dict) else f"record {seq} is not an AuditEvent: edited")
        if link(previous, canonical(event)) != stored_hash:
            return count, Broken(seq, f"record {seq} does not match its hash: edited")
        previous = stored_hash
        expected += 1
        count += 1
    return count, None

