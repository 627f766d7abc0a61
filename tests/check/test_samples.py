"""The records the checker writes are valid FHIR R4 with well-formed SNOMED CT codes: a failure must be the
server's, never the checker's own data."""

from __future__ import annotations

import pytest

from caregate.check.samples import TEMPLATES, UK_CORE_TYPES, dependencies
from caregate.check.snomed import SYSTEM, concept_id_problem
from caregate.fhir.validate import validate


def _codes(value):
    if isinstance(value, dict):
        if value.get("system") == SYSTEM:
            yield value["code"]
        for v in value.values():
            yield from _codes(v)
    elif isinstance(value, list):
        for v in value:
            yield from _codes(v)


@pytest.mark.parametrize("type_", sorted(TEMPLATES))
def test_every_sample_is_valid(type_: str) -> None:
    resource = TEMPLATES[type_]("a1b2c3d4", {dep: "x1" for dep in dependencies(type_)}) | {"id": "x1"}
    assert resource["resourceType"] == type_
    errors = [(i.expression, i.diagnostics) for i in validate(resource) if i.severity in ("error", "fatal")]
    assert errors == []
    assert [c for c in _codes(resource) if concept_id_problem(c)] == []


def test_every_uk_core_type_has_a_sample() -> None:
    assert set(UK_CORE_TYPES) <= set(TEMPLATES)


def test_sctid_check_digits() -> None:
    assert concept_id_problem("44054006") is None
    assert concept_id_problem("39114911000001105") is None  # long form, dm+d namespace
    assert "Verhoeff" in concept_id_problem("44054007")
    assert "partition" in concept_id_problem("44054016")
    assert concept_id_problem("12345") and concept_id_problem("0123456") and concept_id_problem("12a4567")
