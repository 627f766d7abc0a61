"""Bundles built around stored JSON without re-parsing it (orjson fragments), per
https://hl7.org/fhir/R4/bundle.html."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson

from caregate.errors import Issue
from caregate.storage.base import Stored


def full_url(base: str, s: Stored) -> str:
    """A contained resource returned on its own is named by its container's URL and its local id
    (search.html#contained, references.html#contained)."""
    if s.container:
        return f"{base}/{s.container}#{s.id}"
    return f"{base}/{s.type}/{s.id}"


def resource_fragment(s: Stored) -> orjson.Fragment:
    return orjson.Fragment(s.json)


def link(base: str, path: str, params: list[tuple[str, str]]) -> str:
    qs = urlencode(params, safe="|:,/")
    return f"{base}/{path}" + (f"?{qs}" if qs else "") if path else f"{base}" + (f"?{qs}" if qs else "")


def outcome(issues: list[Issue]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}
