"""The FHIRPath subset of SearchParameter expressions (https://hl7.org/fhirpath/N1/, R4 fhirpath.html)."""

from __future__ import annotations

from typing import Any

import pytest

from caregate.fhir.definitions import search_parameter_data
from caregate.search.fhirpath import (
    FhirPathError,
    compile_expression,
    compile_typed,
    reference_parts,
    split_by_type,
    try_compile,
    type_matches,
)


def run(expression: str, resource: dict[str, Any], resource_type: str | None = None) -> list[Any]:
    return compile_expression(expression, resource_type or resource.get("resourceType"))(resource)


def test_every_base_expression_compiles() -> None:
    """All 1,378 R4 SearchParameters: each one's expression, restricted to each of its base types."""
    records = search_parameter_data()
    assert len(records) == 1378
    compiled, failures, without = 0, [], []
    for record in records:
        if "expression" not in record:
            without.append(record["code"])
            continue
        ok = True
        for base, expression in record["expressions"].items():
            try:
                compile_typed(expression, None if base in ("Resource", "DomainResource") else base)
            except FhirPathError as exc:
                ok = False
                failures.append(f"{record['url']} [{base}] {expression}: {exc}")
        compiled += ok
    print(
        f"\n{compiled} of {len(records)} SearchParameter expressions compile; "
        f"{len(without)} have no expression ({', '.join(without)}); failures: {failures or 'none'}"
    )
    assert failures == []
    assert compiled == len(records) - len(without)
    assert sorted(without) == ["_content", "_query", "_text"]


def test_every_base_expression_is_typed() -> None:
    """The element model types every part, so the indexer never has to guess a datatype."""
    untyped = [
        (record["code"], base, part)
        for record in search_parameter_data()
        for base, expression in record.get("expressions", {}).items()
        for part in compile_typed(expression, None if base in ("Resource", "DomainResource") else base)
        if part.type is None
    ]
    assert untyped == []


def test_paths_flatten_arrays() -> None:
    patient = {"resourceType": "Patient", "name": [{"given": ["A", "B"]}, {"given": ["C"]}, {"family": "D"}]}
    assert run("Patient.name.given", patient) == ["A", "B", "C"]
    assert run("Patient.name", patient) == patient["name"]
    assert run("Patient.birthDate", patient) == []


def test_type_name_at_start_is_a_filter_when_untyped() -> None:
    patient = {"resourceType": "Patient", "gender": "male"}
    assert compile_expression("Patient.gender")(patient) == ["male"]
    assert compile_expression("Observation.status")(patient) == []
    assert compile_expression("Resource.gender")(patient) == ["male"]


def test_unions_and_parentheses() -> None:
    obs = {"resourceType": "Observation", "code": {"text": "x"}, "category": [{"text": "y"}]}
    assert run("Observation.code.text | (Observation.category.text)", obs) == ["x", "y"]


def test_choice_element_as_operator_and_functions() -> None:
    obs = {"resourceType": "Observation", "valueQuantity": {"value": 5, "unit": "mg"}}
    assert run("(Observation.value as Quantity)", obs) == [{"value": 5, "unit": "mg"}]
    assert run("Observation.value.as(Quantity).unit", obs) == ["mg"]
    assert run("Observation.value.ofType(Quantity)", obs) == [{"value": 5, "unit": "mg"}]
    assert run("(Observation.value as CodeableConcept)", obs) == []
    assert run(
        "(Observation.value as CodeableConcept).text", {"valueCodeableConcept": {"text": "t"}}, "Observation"
    ) == ["t"]


def test_choice_without_type_filter_yields_one_typed_part_per_type() -> None:
    parts = compile_typed("Observation.effective", "Observation")
    assert {p.type for p in parts} == {"dateTime", "Period", "Timing", "instant"}
    obs = {"resourceType": "Observation", "effectivePeriod": {"start": "2020"}}
    found = [(p.type, p.evaluate(obs)) for p in parts if p.evaluate(obs)]
    assert found == [("Period", [{"start": "2020"}])]


def test_system_type_names_match_fhir_primitives() -> None:
    obs = {"resourceType": "Observation", "valueDateTime": "2020-01-01"}
    assert run("Observation.value.as(DateTime)", obs) == ["2020-01-01"]
    assert type_matches("instant", "DateTime")
    assert type_matches("Age", "Quantity")
    assert type_matches("code", "string")
    assert type_matches("Patient", "Resource")
    assert not type_matches("string", "code")
    assert not type_matches("Period", "Quantity")


def test_where_resolve_is_type_keeps_references_to_that_type() -> None:
    obs = {
        "resourceType": "Observation",
        "contained": [{"resourceType": "Patient", "id": "inline"}],
        "subject": {"reference": "Patient/1"},
        "performer": [
            {"reference": "Practitioner/2"},
            {"reference": "https://other.example/fhir/Patient/3/_history/4"},
            {"reference": "#inline"},
            {"reference": "urn:uuid:0b0e6f3e-1c2a-4d0a-9d87-1c1b2b7d9c11"},
            {"type": "Patient", "identifier": {"value": "x"}},
        ],
    }
    assert run("Observation.subject.where(resolve() is Patient)", obs) == [{"reference": "Patient/1"}]
    found = run("Observation.performer.where(resolve() is Patient)", obs)
    assert [r.get("reference") for r in found] == [
        "https://other.example/fhir/Patient/3/_history/4",
        "#inline",
        None,
    ]
    assert run("Observation.performer.where(resolve() is Practitioner)", obs) == [
        {"reference": "Practitioner/2"}
    ]


def test_where_equality_filter() -> None:
    patient = {
        "resourceType": "Patient",
        "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "a@b"}],
    }
    assert run("Patient.telecom.where(system='email')", patient) == [{"system": "email", "value": "a@b"}]
    assert run("Patient.telecom.where(system='email' or system='phone').value", patient) == ["1", "a@b"]
    assert run("Patient.telecom.where(value.exists() and system != 'phone').value", patient) == ["a@b"]


def test_extension_function() -> None:
    url = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
    patient = {
        "resourceType": "Patient",
        "extension": [{"url": url, "valueCode": "F"}, {"url": "x", "valueCode": "M"}],
    }
    assert run(f"Patient.extension('{url}').value", patient) == ["F"]
    assert run(f"Patient.extension('{url}').value.as(code)", patient) == ["F"]
    assert run(f"Patient.extension.where(url = '{url}').value", patient) == ["F"]


def test_exists_and_boolean_logic() -> None:
    expression = "Patient.deceased.exists() and Patient.deceased != false"
    assert run(expression, {"resourceType": "Patient"}) == [False]
    assert run(expression, {"resourceType": "Patient", "deceasedBoolean": False}) == [False]
    assert run(expression, {"resourceType": "Patient", "deceasedBoolean": True}) == [True]
    assert run(expression, {"resourceType": "Patient", "deceasedDateTime": "2020"}) == [True]


def test_first_indexer_and_collection_functions() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c"}}, {}],
    }
    assert run("Bundle.entry[0].resource", bundle) == [{"resourceType": "Composition", "id": "c"}]
    assert run("Bundle.entry[5].resource", bundle) == []
    patient = {"resourceType": "Patient", "name": [{"family": "A"}, {"family": "B"}, {"family": "A"}]}
    assert run("Patient.name.family.first()", patient) == ["A"]
    assert run("Patient.name.family.last()", patient) == ["A"]
    assert run("Patient.name.family.tail()", patient) == ["B", "A"]
    assert run("Patient.name.family.distinct()", patient) == ["A", "B"]
    assert run("Patient.name.family.count()", patient) == [3]
    assert run("Patient.name.select(family)", patient) == ["A", "B", "A"]
    assert run("Patient.birthDate.empty()", patient) == [True]
    assert run("Patient.name.exists(family = 'B')", patient) == [True]


def test_resource_variable_in_composite_components() -> None:
    seq = {
        "resourceType": "MolecularSequence",
        "referenceSeq": {"chromosome": {"text": "1"}},
        "variant": [{"start": 3}],
    }
    assert compile_expression("%resource.referenceSeq.chromosome", "MolecularSequence")(seq) == [
        {"text": "1"}
    ]


def test_unsupported_expressions_are_reported() -> None:
    for expression in (
        "Patient.name.family + 'x'",
        "Patient.name.memberOf('x')",
        "Patient.nope",
        "Patient.(",
    ):
        with pytest.raises(FhirPathError):
            compile_expression(expression, "Patient")
        assert try_compile(expression, "Patient") is None


def test_primitive_arrays_with_nulls_skip_them() -> None:
    patient = {"resourceType": "Patient", "name": [{"given": [None, "B"], "_given": [{"id": "1"}, None]}]}
    assert run("Patient.name.given", patient) == ["B"]


def test_reference_parts() -> None:
    assert reference_parts("Patient/1") == ("Patient", "1", None)
    assert reference_parts("Patient/1/_history/2") == ("Patient", "1", "2")
    assert reference_parts("http://x.org/fhir/Observation/o-1") == ("Observation", "o-1", None)
    assert reference_parts("http://x.org/fhir/Observation/o-1/_history/7") == ("Observation", "o-1", "7")
    assert reference_parts("#c1") == (None, None, None)
    assert reference_parts("urn:uuid:1234") == (None, None, None)
    assert reference_parts("Patient?identifier=x|1") == (None, None, None)
    assert reference_parts("NotAType/1") == (None, None, None)


def test_split_by_type_restricts_shared_expressions() -> None:
    shared = (
        "AllergyIntolerance.code | AllergyIntolerance.reaction.substance | Condition.code"
        " | (Observation.value as Quantity)"
    )
    assert split_by_type(shared, ["AllergyIntolerance", "Condition", "Observation"]) == {
        "AllergyIntolerance": "AllergyIntolerance.code | AllergyIntolerance.reaction.substance",
        "Condition": "Condition.code",
        "Observation": "(Observation.value as Quantity)",
    }
    assert split_by_type("Resource.meta.tag", ["Resource"]) == {"Resource": "Resource.meta.tag"}
    expression = "Patient.deceased.exists() and Patient.deceased != false"
    assert split_by_type(expression, ["Patient"]) == {"Patient": expression}
    assert split_by_type("Condition.code", ["Condition", "Observation"]) == {"Condition": "Condition.code"}


def test_split_data_has_each_base_only_its_own_branches() -> None:
    for record in search_parameter_data():
        for base, expression in record.get("expressions", {}).items():
            for other in record["base"]:
                if other != base and other not in ("Resource", "DomainResource"):
                    assert f"{other}." not in expression.replace(f"{base}.", ""), (record["url"], base)
