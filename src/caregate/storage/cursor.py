"""Opaque paging cursors: the keyset position of the next or previous page, base64url-encoded JSON.

Cursors name a position in the result order (the surrogate key, or (t, rid) for history), not an offset,
so a page never repeats or skips a resource when other resources are written meanwhile. A cursor that
cannot be decoded is a client error, not a crash; one past its lifetime answers 410 Gone, telling the client
to search again rather than silently starting over.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from caregate.errors import FhirError, incorrect

LIFETIME_S = 3600


def encode(data: dict, now_s: int) -> str:
    """A cursor valid for LIFETIME_S seconds from `now_s`."""
    return base64.urlsafe_b64encode(orjson.dumps({**data, "x": now_s + LIFETIME_S})).rstrip(b"=").decode()


def decode(token: str, now_s: int) -> dict:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("x"), int):
        raise incorrect("The paging link is not valid (it may have been altered); start the search again.",
                        "_cursor")
    if data["x"] < now_s:
        raise FhirError("gone", "This paging link has expired (links last an hour); run the search again.",
                        ("_cursor",))
    return data
