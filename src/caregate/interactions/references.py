"""Rewriting references inside resources: `urn:uuid:` placeholders and conditional references
(https://hl7.org/fhir/R4/http.html#trules and #transaction), shared by transactions and bulk loading."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def rewrite_references(node: Any, resolve: Callable[[str], str | None]) -> Any:
    """Walk a resource and replace each `Reference.reference` for which `resolve` gives a new value.

    Narrative (`text.div`) is left as it is. The walk is iterative-in-spirit: it only descends into dicts
    and lists, and only rewrites string values under a key named `reference`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                new = resolve(value)
                if new is not None:
                    node[key] = new
            elif isinstance(value, dict | list):
                rewrite_references(value, resolve)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                rewrite_references(item, resolve)
    return node


def collect_references(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                out.add(value)
            elif isinstance(value, dict | list):
                collect_references(value, out)
    elif isinstance(node, list):
        for item in node:
            collect_references(item, out)
    return out


def is_conditional(reference: str) -> bool:
    """`Patient?identifier=...`: a search in place of an id (R4 transactions, http.html#trules)."""
    head, sep, _ = reference.partition("?")
    return bool(sep) and "/" not in head and head[:1].isupper()
