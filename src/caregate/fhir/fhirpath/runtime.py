"""The evaluation environment and the function registry shared by the compiler and the function library.

An `Env` lives for one evaluation: it holds the environment variables of N1 §7 and FHIR
(https://hl7.org/fhir/R4/fhirpath.html#vars: `%resource`, `%rootResource`, `%context`, `%ucum`, `%sct`,
`%loinc`, `%vs-[name]`, `%ext-[name]`), the caller's variables, the resolver behind `resolve()`, and the
mutable `$index`/`$total` of the innermost iterating function. `now()` is fixed once per evaluation, as
N1 §5.9 requires ("the same value for every call within one evaluation").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from caregate.clock import Clock, SystemClock
from caregate.fhir.fhirpath.errors import FhirPathEvaluationError
from caregate.fhir.fhirpath.temporal import Temporal, from_datetime

__all__ = ["FUNCTIONS", "Env", "Eval", "FunctionDef", "Resolver", "Tracer", "function"]

Resolver = Callable[[str], Any]
"""Turns a reference string (`Patient/123`, an absolute URL) into a resource dict, or None."""
Tracer = Callable[[str, list], None]
"""Receives `trace(name)` output: the name and the traced collection."""

_CONSTANTS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}
_SYSTEM_CLOCK = SystemClock()


class Env:
    """Per-evaluation state (see module docstring); functions read it, iterating functions set
    `index`/`total` around each step and restore them afterwards."""

    __slots__ = ("_now", "clock", "context", "index", "lenient_as", "resolver", "resource", "root_resource",
                 "strict", "total", "tracer", "variables")

    def __init__(self, *, resource: list, root_resource: list, context: list, variables: dict[str, Any] | None,
                 resolver: Resolver | None, strict: bool, lenient_as: bool, clock: Clock | None,
                 tracer: Tracer | None) -> None:
        self.resource = resource
        self.root_resource = root_resource
        self.context = context
        self.variables = variables or {}
        self.resolver = resolver
        self.strict = strict
        self.lenient_as = lenient_as
        self.clock = clock
        self.tracer = tracer
        self.index: int | None = None
        self.total: list = []
        self._now: datetime | None = None

    def now(self) -> datetime:
        if self._now is None:
            self._now = (self.clock or _SYSTEM_CLOCK).now()
        return self._now

    def now_value(self, kind: str) -> Temporal:
        return from_datetime(self.now(), kind)

    def variable(self, name: str) -> list:
        """The value of `%name` as a collection; an unknown variable is an error (N1 §7)."""
        if name in self.variables:
            value = self.variables[name]
            return list(value) if isinstance(value, (list, tuple)) else [value]
        if name == "resource":
            return self.resource
        if name == "rootResource":
            return self.root_resource
        if name == "context":
            return self.context
        if name in _CONSTANTS:
            return [_CONSTANTS[name]]
        if name.startswith("vs-"):
            return [f"http://hl7.org/fhir/ValueSet/{name[3:]}"]
        if name.startswith("ext-"):
            return [f"http://hl7.org/fhir/StructureDefinition/{name[4:]}"]
        raise FhirPathEvaluationError(f"unknown environment variable %{name}")


Eval = Callable[[list, Env], list]
"""A compiled expression: (context collection, env) -> result collection."""


@dataclass(frozen=True, slots=True)
class FunctionDef:
    """A library function. `kind` says how its arguments reach `impl`:

    - "value": evaluated once against the caller's context -> impl(env, input, *arg_collections)
    - "lambda": compiled, evaluated by the function per item -> impl(env, input, context, *arg_evals)
    - "type": a type specifier -> impl(env, input, TypeSpec | None, written name)

    `ordered` marks functions whose result depends on input order (checked in strict mode against
    `children()`/`descendants()`, whose order is undefined); `keeps_type` marks filters whose output has the
    input's type (used by strict-mode type checking).
    """

    name: str
    impl: Callable[..., list]
    min_args: int
    max_args: int
    kind: str
    ordered: bool
    keeps_type: bool


FUNCTIONS: dict[str, FunctionDef] = {}
"""Function name -> definition; filled by the fn_* modules when the package is imported."""


def function(name: str, min_args: int = 0, max_args: int | None = None, kind: str = "value",
             ordered: bool = False, keeps_type: bool = False) -> Callable[[Callable[..., list]], Callable[..., list]]:
    """Register a library function under `name` (decorator)."""

    def register(impl: Callable[..., list]) -> Callable[..., list]:
        FUNCTIONS[name] = FunctionDef(name, impl, min_args, min_args if max_args is None else max_args, kind,
                                      ordered, keeps_type)
        return impl

    return register
