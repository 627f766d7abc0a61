"""What a user sees of a FHIR response, in the shape the access tests compare."""

from __future__ import annotations

from collections.abc import Collection

from tests.auth.conftest import Secured


async def seen(secured: Secured, headers: dict, path: str, types: Collection[str] | None = None) -> object:
    """A status for anything but a Bundle; for a Bundle, (total, sorted `type/id` of its resources), keeping
    only resources of `types` when given."""
    r = await secured.client.get(path, headers=headers)
    if r.status_code != 200 or r.json()["resourceType"] != "Bundle":
        return r.status_code
    body = r.json()
    return body.get("total"), sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}"
                                     for e in body.get("entry", []) if "resource" in e
                                     and (types is None or e["resource"]["resourceType"] in types))
