"""Which FHIR interaction a request is, from its method and path alone (the URL grammar of
https://hl7.org/fhir/R4/http.html): the audit records it and `caregate access explain` decides on it, so both
read a request the same way."""

from __future__ import annotations


def interaction(method: str, seg: list[str]) -> str:
    """The restful-interaction code of a request, by the URL grammar of http.html."""
    n = len(seg)
    if n and seg[-1].startswith("$"):
        return "operation"
    if n == 0:
        return "transaction" if method == "POST" else "search-system"
    if n == 1 and seg[0] == "metadata":
        return "capabilities"
    if n == 1 and seg[0] == "_history":
        return "history-system"
    if n == 1 and seg[0] == "_search":
        return "search-system"
    if n == 1:
        return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(method, "search-type")
    if n == 2 and seg[1] == "_search":
        return "search-type"
    if n == 2 and seg[1] == "_history":
        return "history-type"
    if n == 2:
        return {"PUT": "update", "DELETE": "delete", "PATCH": "patch"}.get(method, "read")
    if n == 3 and seg[2] == "_history":
        return "history-instance"
    if n == 4 and seg[2] == "_history":
        return "vread"
    return "search-type"  # a compartment search
