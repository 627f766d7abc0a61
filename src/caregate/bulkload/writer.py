"""Writing loaded resources in batches, and the account of what was loaded and what failed.

A database transaction per resource would spend most of the load committing, so resources are written
`batch_size` at a time, each batch one `transact_sync` call (one atomic transaction). Every write is an
update with the resource's id, a create-or-update (https://hl7.org/fhir/R4/http.html#upsert), so loading
the same files again leaves the same resources. When a batch fails, its resources are written again one
by one: only the resource at fault is lost, and it is reported with its file and line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from caregate.errors import FhirError
from caregate.storage.base import ResourceStore, Stored, Write

_KEEP_PROBLEMS = 1000  # problems kept on the summary; all of them go to the `report` callback


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that was not loaded, and why; `str()` gives the `FILE:LINE: message` a user reads."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(slots=True)
class LoadSummary:
    files: int = 0
    loaded: int = 0  # resources written (created or updated)
    failed: int = 0  # records (or Bundle entries) not loaded
    seconds: float = 0.0
    by_type: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)  # the first ones only

    @property
    def rate(self) -> float:
        """Resources written per second."""
        return self.loaded / self.seconds if self.seconds > 0 else 0.0


Report = Callable[[Problem], None]


class BulkStore(ResourceStore, Protocol):
    """A store that can also be written from plain (non-async) code, as both engines can: the loader
    writes a batch per call without handing it to another thread first, and refreshes the planner's
    statistics when it is done."""

    def transact_sync(self, writes: Sequence[Write]) -> list[Stored]: ...

    def refresh_statistics(self) -> None:
        """Fresh planner statistics on the tables the load filled (both engines: see `storage.sql.schema`)."""


def data_error(exc: Exception) -> str | None:
    """The message when `exc` is the fault of the record being written; None when it is not (the database
    is busy or gone), in which case the load must stop rather than blame every record that follows."""
    if isinstance(exc, FhirError):
        return None if exc.category == "busy" else exc.message
    if isinstance(exc, ValueError | TypeError | KeyError | AttributeError | RecursionError):
        return f"cannot be stored ({type(exc).__name__}: {exc})"
    sqlstate = getattr(exc, "sqlstate", None)  # PostgreSQL class 22: data exception (e.g. a \u0000)
    if isinstance(sqlstate, str) and sqlstate.startswith("22"):
        first = (str(exc).splitlines() or [""])[0]
        return f"cannot be stored: {first}"
    return None


class Account:
    """Counts and reports: the one place a load's outcome is recorded."""

    def __init__(self, labels: Sequence[str], report: Report | None) -> None:
        self.labels = labels
        self.report = report
        self.summary = LoadSummary(files=len(labels))

    def problem(self, file_no: int, line: int, message: str) -> None:
        item = Problem(self.labels[file_no], line, message)
        self.summary.failed += 1
        if len(self.summary.problems) < _KEEP_PROBLEMS:
            self.summary.problems.append(item)
        if self.report is not None:
            self.report(item)

    def stored(self, items: Sequence[Stored]) -> None:
        self.summary.loaded += len(items)
        self.summary.by_type.update(s.type for s in items)

    def written(self, type_: str) -> None:
        self.summary.loaded += 1
        self.summary.by_type[type_] += 1


Place = tuple[int, int, str]  # (file number, line, how to name the resource in a report)


class BatchWriter:
    def __init__(self, transact: Callable[[Sequence[Write]], list[Stored]], account: Account,
                 batch_size: int) -> None:
        self.transact = transact
        self.account = account
        self.batch_size = batch_size
        self.pending: list[Write] = []
        self.places: list[Place] = []

    def add(self, write: Write, place: Place) -> None:
        self.pending.append(write)
        self.places.append(place)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        writes, places = self.pending, self.places
        if not writes:
            return
        self.pending, self.places = [], []
        try:
            self.account.stored(self.transact(writes))
            return
        except Exception as exc:
            if data_error(exc) is None:
                raise
        for write, (file_no, line, name) in zip(writes, places, strict=True):
            try:
                self.account.stored(self.transact([write]))
            except Exception as exc:
                message = data_error(exc)
                if message is None:
                    raise
                self.account.problem(file_no, line, f"{name}: {message}")
