"""Opaque paging cursors: the keyset position of the next or previous page, base64url-encoded JSON.

Cursors name a position in the result order (the surrogate key, or (t, rid) for history), not an offset,
so a page never repeats or skips a resource when other resources are written meanwhile. A cursor that
cannot be decoded is a client error, not a crash.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from caregate.errors import incorrect


def encode(data: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def decode(token: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        raise incorrect("The paging link is not valid (it may have been altered); start the search again.",
                        "_cursor")
    return data
