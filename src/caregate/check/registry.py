"""The catalogue of tests: suites register theirs with `@test(...)`; `all_tests()` returns them in order."""

from __future__ import annotations

from collections.abc import Callable

from caregate.check.capability import Capability
from caregate.check.model import CheckTest, Requirement, always

SUITES = ("capability", "rest", "search", "ukcore", "security", "realtime", "bulk")
_TESTS: list[CheckTest] = []

R4 = "https://hl7.org/fhir/R4/"


def test(id_: str, title: str, text: str, link: str, *, mandatory: Callable[[Capability], bool] = always,
         writes: bool = False) -> Callable:
    """Register the decorated function as a test; its suite is the first part of `id_`."""

    def register(fn: Callable) -> Callable:
        add(CheckTest(id_, id_.split(".", 1)[0], title, Requirement(text, link), fn, mandatory, writes))
        return fn

    return register


def add(t: CheckTest) -> None:
    if t.suite not in SUITES:
        raise ValueError(f"unknown suite {t.suite!r}")
    if any(existing.id == t.id for existing in _TESTS):
        raise ValueError(f"duplicate test id {t.id!r}")
    _TESTS.append(t)


def all_tests(suites: tuple[str, ...] = ()) -> list[CheckTest]:
    import caregate.check.suites  # noqa: F401 - registers every suite

    chosen = [t for t in _TESTS if not suites or t.suite in suites]
    return sorted(chosen, key=lambda t: SUITES.index(t.suite))
