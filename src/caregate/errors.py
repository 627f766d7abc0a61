"""One error tree for the whole platform.

Errors carry a *category* (after Blaze's anomalies) instead of an HTTP status: only the web layer maps a
category to a status and an OperationOutcome, so storage and interactions never know about HTTP.

    FhirError
     category: incorrect | invalid | not-found | gone | conflict | precondition | not-allowed
               | forbidden | unauthorized | too-large | busy | fault

The OperationOutcome issue codes follow https://hl7.org/fhir/R4/valueset-issue-type.html.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Category = Literal[
    "incorrect",  # malformed request (400)
    "invalid",  # well-formed but fails business rules or validation (422)
    "not-found",  # 404
    "gone",  # deleted (410)
    "conflict",  # version or state conflict (409)
    "precondition",  # If-Match and conditional matches (412)
    "not-allowed",  # interaction not supported on this path (405)
    "forbidden",  # 403
    "unauthorized",  # 401
    "too-large",  # 413
    "unsupported-media",  # 415
    "not-acceptable",  # 406
    "busy",  # 503
    "fault",  # 500: a bug, never caused by user input
]

_DEFAULT_CODE: dict[str, str] = {
    "incorrect": "invalid",
    "invalid": "processing",
    "not-found": "not-found",
    "gone": "deleted",
    "conflict": "conflict",
    "precondition": "conflict",
    "not-allowed": "not-supported",
    "forbidden": "forbidden",
    "unauthorized": "login",
    "too-large": "too-costly",
    "unsupported-media": "not-supported",
    "not-acceptable": "not-supported",
    "busy": "transient",
    "fault": "exception",
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: what went wrong, where (FHIRPath/parameter) and how bad."""

    diagnostics: str
    code: str = "invalid"
    severity: str = "error"
    expression: tuple[str, ...] = ()

    def to_json(self) -> dict:
        out: dict = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = list(self.expression)
        return out


@dataclass(eq=False)
class FhirError(Exception):
    """An error the client should see, with a human sentence and the location of the problem."""

    category: Category
    message: str
    expression: tuple[str, ...] = ()
    code: str | None = None
    extra: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def issues(self) -> list[Issue]:
        first = Issue(self.message, self.code or _DEFAULT_CODE[self.category], "error", self.expression)
        if self.category == "fault":
            first = Issue(self.message, first.code, "fatal", self.expression)
        return [first, *self.extra]


def incorrect(message: str, *expression: str) -> FhirError:
    return FhirError("incorrect", message, expression)


def invalid(message: str, *expression: str) -> FhirError:
    return FhirError("invalid", message, expression)


def not_found(message: str) -> FhirError:
    return FhirError("not-found", message)


# The HTTP status of each category (https://hl7.org/fhir/R4/http.html). Lives here, not in the web layer,
# because batch/transaction responses carry the status inside the Bundle (`entry.response.status`).
HTTP_STATUS: dict[str, int] = {
    "incorrect": 400,
    "invalid": 422,
    "not-found": 404,
    "gone": 410,
    "conflict": 409,
    "precondition": 412,
    "not-allowed": 405,
    "forbidden": 403,
    "unauthorized": 401,
    "too-large": 413,
    "unsupported-media": 415,
    "not-acceptable": 406,
    "busy": 503,
    "fault": 500,
}
