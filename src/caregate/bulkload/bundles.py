"""What a record holds: a resource, the resources of a collection-like Bundle, or a transaction to run.

- `transaction` and `batch` Bundles are requests (https://hl7.org/fhir/R4/http.html#transaction): each is
  run as such, so a transaction stays all-or-nothing.
- `collection` and `searchset` Bundles only carry resources (bundle.html#bundle-types): their entries'
  resources are loaded, except a searchset's `search.mode = outcome` entries, which describe the search.
  `urn:uuid:`/`urn:oid:` full URLs are given real ids and references to them rewritten, as a transaction
  would (bundle.html#references).
- Anything else, including `document` and `message` Bundles, is itself the resource to store.

To let the rest of a load point at a resource a transaction will create, the loader may fix that
resource's id in advance; `pin_ids` turns those POST entries into PUTs of the chosen id, which creates the
same resource under a known id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")  # https://hl7.org/fhir/R4/datatypes.html#id
Kind = Literal["transaction", "entries", "resource"]


def kind(doc: dict) -> Kind:
    if doc.get("resourceType") != "Bundle":
        return "resource"
    btype = doc.get("type")
    if btype in ("transaction", "batch"):
        return "transaction"
    if btype in ("collection", "searchset"):
        return "entries"
    return "resource"


def valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID.match(value) is not None


@dataclass(slots=True)
class Entry:
    """One resource of a collection-like Bundle, or the bad entry's complaint in `error`."""

    index: int
    resource: dict | None
    full_url: str | None
    error: str | None = None


def entries(bundle: dict) -> Iterator[Entry]:
    raw = bundle.get("entry") or []
    if not isinstance(raw, list):
        yield Entry(0, None, None, "Bundle.entry must be an array")
        return
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            yield Entry(i, None, None, f"Bundle.entry[{i}] must be an object")
            continue
        search = e.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue
        res, full_url = e.get("resource"), e.get("fullUrl")
        if not isinstance(res, dict):
            yield Entry(i, None, None, f"Bundle.entry[{i}] has no resource")
            continue
        yield Entry(i, res, full_url if isinstance(full_url, str) else None)


def is_placeholder(full_url: str | None) -> bool:
    return full_url is not None and full_url.startswith(("urn:uuid:", "urn:oid:"))


@dataclass(frozen=True, slots=True)
class Target:
    """A transaction entry that creates or updates a resource: where its id comes from.

    `id` is known for `PUT Type/id`. Otherwise the loader picks one, but first asks the store with the
    entry's `criteria` (a POST's ifNoneExist, a conditional PUT's query) when it has some, since the
    transaction will reuse a match (http.html#ccreate, #cond-update)."""

    index: int
    method: str
    type: str
    resource: dict
    id: str | None
    criteria: str | None


def transaction_targets(bundle: dict) -> Iterator[Target]:
    raw = bundle.get("entry")
    if not isinstance(raw, list):
        return
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            continue
        req, res = e.get("request"), e.get("resource")
        if not isinstance(req, dict) or not isinstance(res, dict) or not isinstance(req.get("url"), str):
            continue
        path, _, query = req["url"].partition("?")
        parts = [p for p in path.strip("/").split("/") if p]
        method = req.get("method")
        if method == "PUT" and len(parts) == 2 and not query and valid_id(parts[1]):
            yield Target(i, method, parts[0], res, parts[1], None)
        elif method == "PUT" and len(parts) == 1 and query:
            yield Target(i, method, parts[0], res, None, query)
        elif method == "POST" and len(parts) == 1:
            ine = req.get("ifNoneExist")
            yield Target(i, method, parts[0], res, None, ine.lstrip("?") if isinstance(ine, str) and ine else None)


def pin_ids(bundle: dict, ids: dict[int, str]) -> None:
    """Turn the entries listed in `ids` (entry index -> id) into `PUT Type/id`: for a POST, or a
    conditional PUT that matched nothing, that creates the same resource as the entry would."""
    for i, id_ in ids.items():
        entry = bundle["entry"][i]
        type_ = entry["request"]["url"].strip("/").split("?")[0]
        entry["request"] = {"method": "PUT", "url": f"{type_}/{id_}"}
        entry["resource"] = {**entry["resource"], "id": id_}
