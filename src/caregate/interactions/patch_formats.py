"""The two patch formats FHIR R4 defines for the patch interaction (https://hl7.org/fhir/R4/http.html#patch),
told apart by the body: a JSON Patch array (RFC 6902, `application/json-patch+json`) or a FHIRPath Patch
Parameters resource (fhirpatch.html, `application/fhir+json` or XML). Used by the patch interaction and by
PATCH entries of batches and transactions, so both report errors the same way.

A malformed FHIRPath Patch is 400 (`incorrect`); one that cannot be applied to this resource, like a JSON Patch
that fails, is 422 (`invalid`). The OperationOutcome names the failing operation: `Parameters.parameter[0].part[1]`
for a FHIRPath Patch (prefixed with the Bundle entry inside a Bundle), `[i]` for a JSON Patch operation (the
entry inside a Bundle, where the operations travel base64-encoded in a Binary).
"""

from __future__ import annotations

from caregate.errors import FhirError
from caregate.fhir import fhirpatch, jsonpatch

__all__ = ["apply_patch"]


def apply_patch(resource: dict, body: object, where: str = "") -> object:
    """Apply a patch body to a copy of `resource`; `where` is the body's location in the request (empty for
    the body itself, `Bundle.entry[2].resource` in a Bundle)."""
    if fhirpatch.is_fhirpath_patch(body):
        try:
            return fhirpatch.apply(resource, body)
        except fhirpatch.FhirPatchError as exc:
            location = where + exc.location[len("Parameters"):] if where else exc.location
            raise FhirError("incorrect" if exc.malformed else "invalid", f"FHIRPath Patch: {exc.message}",
                            (location,)) from exc
    try:
        return jsonpatch.apply(resource, body)
    except jsonpatch.PatchError as exc:
        if where:
            raise FhirError("invalid", f"{where}: {exc}", (where,)) from exc
        raise FhirError("invalid", str(exc), (f"[{exc.index}]",)) from exc
