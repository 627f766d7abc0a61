"""The official FHIRPath R4 test suite (FHIR/fhir-test-cases `r4/fhirpath/tests-fhir-r4.xml`) run against the
engine: every test's expression is evaluated on its input resource and the result compared, item by item, by
type and value with the expected outputs.

The suite's conventions (its `testSchema.xsd`): `invalid` says the expression must fail (syntax, semantic or
execution error; a syntax or semantic error must be reported as such, while an execution error may be found
earlier, when compiling), `predicate="true"` evaluates the result as a Boolean, `ordered="false"` compares as a bag,
`mode="strict"` asks for the strict checks (unknown paths, ordered functions over unordered input). Outputs
carry the FHIR or System type name (`code`, `string`, `dateTime`, `Quantity`); untyped outputs are compared by
their written form.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

from caregate.fhir import fhirpath
from caregate.fhir.fhirpath import (
    Date,
    DateTime,
    FhirPathError,
    FhirPathSemanticError,
    FhirPathSyntaxError,
    Node,
    Quantity,
    Time,
    text_of,
    to_system,
)
from caregate.fhir.fhirpath.values import to_boolean
from caregate.fhir.xmlformat import parse_xml

SUITE = ("testsuites", "fhirpath-r4")
PASS_BAR = 0.95
_SYSTEM_TYPE = {bool: "boolean", int: "integer", Decimal: "decimal", str: "string", Date: "date",
                DateTime: "dateTime", Time: "time", Quantity: "Quantity"}
_FHIR_TO_SYSTEM = {"code": "string", "id": "string", "markdown": "string", "uri": "string", "url": "string",
                   "canonical": "string", "oid": "string", "uuid": "string", "base64Binary": "string",
                   "instant": "dateTime", "unsignedInt": "integer", "positiveInt": "integer"}


@dataclass(frozen=True, slots=True)
class Case:
    """One `<test>` of the suite."""

    group: str
    name: str
    expression: str
    inputfile: str | None
    invalid: str | None
    strict: bool
    predicate: bool
    ordered: bool
    outputs: tuple[tuple[str | None, str], ...]


def load_cases(suite_dir: Path) -> list[Case]:
    root = ET.parse(suite_dir / "tests-fhir-r4.xml").getroot()
    cases = []
    for group in root.iter("group"):
        for test in group.iter("test"):
            expr = test.find("expression")
            assert expr is not None, test.get("name")
            strict = "strict" in (test.get("mode"), expr.get("mode"))
            cases.append(Case(
                group=group.get("name", ""),
                name=test.get("name") or f"{group.get('name')}#{len(cases)}",
                expression=expr.text or "",
                inputfile=test.get("inputfile"),
                invalid=expr.get("invalid") or test.get("invalid"),
                strict=strict,
                predicate=test.get("predicate") == "true",
                ordered=test.get("ordered") != "false",
                outputs=tuple((o.get("type"), o.text or "") for o in test.findall("output")),
            ))
    return cases


def load_input(suite_dir: Path, name: str, cache: dict[str, dict]) -> dict:
    if name not in cache:
        data = (suite_dir / "input" / name).read_bytes()
        cache[name] = json.loads(data) if name.endswith(".json") else parse_xml(data)
    return cache[name]


def _type_names(item: Any) -> set[str]:
    """The names an output type may use for an item: its FHIR type and the System type it converts to."""
    names = set()
    if item.__class__ is Node:
        if item.type:
            names.add(item.type)
            names.add(_FHIR_TO_SYSTEM.get(item.type, item.type))
        item = to_system(item)
    if item.__class__ is not Node:
        names.add(_SYSTEM_TYPE.get(item.__class__, item.__class__.__name__))
    return names


def _written(value: Any) -> str:
    """An item written as the suite writes outputs: literals for dates and times, `1 'cm'` for quantities."""
    if isinstance(value, (Date, DateTime, Time)):
        return repr(value)
    return text_of(value)


def _same_value(kind: str | None, text: str, item: Any) -> bool:
    value = to_system(item)
    if value.__class__ is Node:
        return False
    if kind == "boolean":
        return value is (text == "true") if isinstance(value, bool) else False
    if kind in ("integer", "decimal") and value.__class__ in (int, Decimal):
        try:
            return Decimal(text) == value
        except InvalidOperation:
            return False
    return _written(value) == text


def matches(expected: tuple[str | None, str], item: Any) -> bool:
    kind, text = expected
    if kind is not None and kind not in _type_names(item):
        return False
    return _same_value(kind, text, item)


def run_case(case: Case, suite_dir: Path, inputs: dict[str, dict]) -> str | None:
    """Run one test: None when it passes, else what went wrong."""
    resource = load_input(suite_dir, case.inputfile, inputs) if case.inputfile else None
    try:
        result = fhirpath.compile(case.expression, strict=case.strict).evaluate(resource)
        if case.predicate:
            boolean = to_boolean(result, case.expression)
            result = [] if boolean is None else [boolean]
    except FhirPathError as exc:
        if case.invalid is None:
            return f"unexpected {type(exc).__name__}: {exc}"
        if case.invalid == "syntax" and not isinstance(exc, FhirPathSyntaxError):
            return f"expected a syntax error, got {type(exc).__name__}: {exc}"
        if case.invalid == "semantic" and not isinstance(exc, FhirPathSemanticError):
            return f"expected a semantic error, got {type(exc).__name__}: {exc}"
        return None
    if case.invalid is not None:
        return f"expected a {case.invalid} error, got {_show(result)}"
    if len(result) != len(case.outputs):
        return f"expected {list(case.outputs)}, got {_show(result)}"
    if case.ordered:
        ok = all(matches(e, item) for e, item in zip(case.outputs, result, strict=True))
    else:
        pending = list(result)
        ok = True
        for e in case.outputs:
            hit = next((i for i, item in enumerate(pending) if matches(e, item)), None)
            if hit is None:
                ok = False
                break
            pending.pop(hit)
    return None if ok else f"expected {list(case.outputs)}, got {_show(result)}"


def _show(result: list) -> str:
    shown = []
    for item in result:
        value = to_system(item)
        label = "/".join(sorted(_type_names(item)))
        shown.append(f"{label}:{'<complex>' if value.__class__ is Node else _written(value)}")
    return "[" + ", ".join(shown) + "]"


@pytest.fixture
def suite_dir(shared_dir: Path) -> Path:
    path = shared_dir.joinpath(*SUITE)
    if not (path / "tests-fhir-r4.xml").is_file():
        pytest.skip(f"{path} has no tests-fhir-r4.xml")
    return path


def test_fhirpath_r4_suite(suite_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = load_cases(suite_dir)
    inputs: dict[str, dict] = {}
    failures = [(case, why) for case in cases if (why := run_case(case, suite_dir, inputs)) is not None]
    passed = len(cases) - len(failures)
    rate = passed / len(cases)
    with capsys.disabled():
        print(f"\nFHIRPath R4 suite: {passed}/{len(cases)} passed ({rate:.1%})")
        by_group = Counter(case.group for case, _ in failures)
        for case, why in failures:
            print(f"  FAIL {case.group}/{case.name}: {case.expression.strip()!r}: {why}")
        if by_group:
            print("  failures by group: " + ", ".join(f"{g} {n}" for g, n in by_group.most_common()))
    assert len(cases) == 935
    assert rate >= PASS_BAR
