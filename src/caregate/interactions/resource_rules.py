"""Checks every write must pass before anything is stored (https://hl7.org/fhir/R4/resource.html).

Full profile validation is a separate, configurable step; these are the rules without which the store
could not even hold the resource correctly: a JSON object, a known resourceType matching the URL, a legal
id matching the URL on update.
"""

from __future__ import annotations

import re

from caregate.errors import FhirError, incorrect, invalid
from caregate.fhir.definitions import is_resource_type

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def check_type(type_: str) -> None:
    if not is_resource_type(type_):
        raise FhirError("not-found", f"'{type_}' is not a FHIR R4 resource type this server knows.")


def check_id(id_: str) -> None:
    if not _ID.match(id_):
        raise incorrect(f"'{id_}' is not a valid FHIR id (1-64 letters, digits, '-' and '.').", "id")


def check_body(body: object, type_: str, id_: str | None = None, *, need_id: bool = False) -> dict:
    """The resource from a request body, after the checks that do not depend on profiles."""
    if not isinstance(body, dict):
        raise incorrect("The request body must be a FHIR resource: a JSON object.")
    rtype = body.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise invalid("The resource has no 'resourceType'.", "resourceType")
    if rtype != type_:
        raise incorrect(f"The resource is a {rtype} but the URL is for {type_}.", "resourceType")
    if "id" in body and not isinstance(body["id"], str):
        raise invalid("'id' must be a string.", f"{type_}.id")
    if need_id:
        if "id" not in body:
            raise incorrect("An update must carry the resource's id, equal to the id in the URL.", f"{type_}.id")
        if body["id"] != id_:
            raise incorrect(f"The id in the resource ({body['id']}) does not match the id in the URL ({id_}).",
                            f"{type_}.id")
    if "id" in body:
        check_id(body["id"])
    meta = body.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise invalid("'meta' must be an object.", f"{type_}.meta")
    return body
