"""Text for `_text` and `_content` (https://hl7.org/fhir/R4/search.html#content): the narrative of a
resource, and every string in it. Both engines run their own full-text index over what this returns
(SQLite FTS5, PostgreSQL tsvector)."""

from __future__ import annotations

import html
import re
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SKIP = frozenset({"id", "resourceType", "reference", "system", "url", "div", "fullUrl", "versionId", "lastUpdated"})


def narrative_text(resource: dict[str, Any]) -> str:
    """The human-readable narrative (`text.div`), markup removed."""
    text = resource.get("text")
    div = text.get("div") if isinstance(text, dict) else None
    if not isinstance(div, str):
        return ""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", div))).strip()


_KEY = re.compile(rb'"[A-Za-z_][A-Za-z0-9_]*":')
# narrative (indexed for `_text`), and values that are addresses rather than words: ids, references, URLs
_SKIPPED = re.compile(rb'"(?:div|id|reference|fullUrl|versionId|lastUpdated)":"(?:[^"\\]|\\.)*"'
                      rb'|"(?:https?|urn):[^"]*"')


def content_text_from_json(data: bytes) -> str:
    """`content_text` from the serialised resource, without walking it in Python: member names, ids,
    references and URLs are dropped and the narrative left to `_text`."""
    return _KEY.sub(b" ", _SKIPPED.sub(b" ", data)).decode("utf-8", "replace")


def content_text(resource: dict[str, Any]) -> str:
    """Every string value of the resource outside its narrative (identifiers and codes included, URLs and ids
    not). The narrative is indexed once, for `_text`; a `_content` search looks at both."""
    out: list[str] = []
    _walk(resource, out)
    return " ".join(out)


def _walk(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SKIP:
                continue
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, dict | list):
                _walk(value, out)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                out.append(item)
            else:
                _walk(item, out)
