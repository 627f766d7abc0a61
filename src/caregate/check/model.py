"""Tests as data and their results: what is checked, against which requirement, with what verdict and evidence."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from caregate.check.capability import Capability
    from caregate.check.context import CheckContext


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


class Failed(Exception):
    """The server does not meet the requirement; the message says how, in plain words."""


class Skipped(Exception):
    """The test does not apply (not declared, read-only mode, nothing to test with); the message says why."""


def check(condition: object, message: str) -> None:
    """Fail the running test with `message` unless `condition` holds."""
    if not condition:
        raise Failed(message)


def skip(message: str) -> None:
    raise Skipped(message)


@dataclass(frozen=True, slots=True)
class Requirement:
    """What the standard asks, in plain words, and where it says so."""

    text: str
    link: str


def always(_cap: Capability) -> bool:
    return True


def never(_cap: Capability) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class CheckTest:
    """One conformance test.

    `mandatory(cap)` says whether failing it fails the server: a test is mandatory for what the server declares
    in its CapabilityStatement (and for what FHIR requires of every server); other tests report without failing.
    `writes` tests create, change or delete data and are skipped in read-only mode.
    """

    id: str
    suite: str
    title: str
    requirement: Requirement
    run: Callable[[CheckContext], str | None]
    mandatory: Callable[[Capability], bool] = always
    writes: bool = False


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request and its response, as evidence: tokens redacted, bodies truncated."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None
    response_headers: dict[str, str]
    response_body: str | None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "request": {"method": self.method, "url": self.url, "headers": self.request_headers,
                        "body": self.request_body},
            "response": None if self.status is None else {
                "status": self.status, "headers": self.response_headers, "body": self.response_body},
            **({"note": self.note} if self.note else {}),
        }


@dataclass(slots=True)
class TestResult:
    test: CheckTest
    verdict: Verdict
    message: str
    mandatory: bool
    evidence: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        t = self.test
        return {
            "id": t.id, "suite": t.suite, "title": t.title,
            "requirement": {"text": t.requirement.text, "link": t.requirement.link},
            "verdict": self.verdict.value, "mandatory": self.mandatory, "message": self.message,
            "evidence": [e.as_json() for e in self.evidence],
        }
