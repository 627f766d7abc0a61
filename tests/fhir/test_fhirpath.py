"""FHIRPath as the R4 invariants use it (https://hl7.org/fhir/R4/fhirpath.html): the expressions of ele-1, dom-3,
dom-6, obs-6, per-1 and ref-1 on real-shaped resources, `resolve()` through contained resources, Bundles and a
resolver, and `memberOf()` refusing rather than guessing."""

from __future__ import annotations

import pytest

from caregate.fhir import fhirpath
from caregate.fhir.fhirpath import FhirPathEvaluationError, FhirPathNotSupported, FhirPathSemanticError, Node, to_system

ELE_1 = "hasValue() or (children().count() > id.count())"
DOM_6 = "text.`div`.exists()"
OBS_6 = "dataAbsentReason.empty() or value.empty()"
PER_1 = "start.hasValue().not() or end.hasValue().not() or (start <= end)"
REF_1 = "reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id)"
DOM_3 = ("contained.where(('#'+id in %resource.descendants().reference).not()).empty()")


def observation(**extra: object) -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}, **extra}


def elements(resource: dict, path: str) -> list[Node]:
    return fhirpath.evaluate(resource, path)


def test_ele_1_holds_for_primitives_with_a_value_or_extension_and_complex_elements_with_children() -> None:
    patient = {
        "resourceType": "Patient",
        "birthDate": "1974-12-25",
        "_gender": {"extension": [{"url": "http://example.org/why", "valueString": "asked"}]},
        "name": [{"family": "Khan"}, {"id": "n2"}],
    }
    ele_1 = fhirpath.compile(ELE_1)
    assert ele_1.evaluate_boolean(resource=patient, context=elements(patient, "birthDate")) is True
    assert ele_1.evaluate_boolean(resource=patient, context=elements(patient, "gender")) is True
    named, id_only = elements(patient, "name")
    assert ele_1.evaluate_boolean(resource=patient, context=named) is True
    assert ele_1.evaluate_boolean(resource=patient, context=id_only) is False


def test_dom_6_asks_for_narrative() -> None:
    with_text = observation(text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'})
    assert fhirpath.compile(DOM_6).evaluate_boolean(with_text) is True
    assert fhirpath.compile(DOM_6).evaluate_boolean(observation()) is False


@pytest.mark.parametrize(
    ("extra", "holds"),
    [
        ({"valueQuantity": {"value": 72, "unit": "kg"}}, True),
        ({"dataAbsentReason": {"text": "not asked"}}, True),
        ({}, True),
        ({"valueString": "heavy", "dataAbsentReason": {"text": "unknown"}}, False),
    ],
)
def test_obs_6_value_and_data_absent_reason_exclude_each_other(extra: dict, holds: bool) -> None:
    assert fhirpath.compile(OBS_6).evaluate_boolean(observation(**extra)) is holds


def test_choice_elements_are_navigated_by_their_plain_name_and_typed() -> None:
    obs = observation(valueQuantity={"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"})
    assert fhirpath.evaluate(obs, "value.is(Quantity)") == [True]
    assert fhirpath.evaluate(obs, "value > 70000 'g'") == [True]
    with pytest.raises(FhirPathSemanticError):
        fhirpath.compile("Observation.valueQuantity")


@pytest.mark.parametrize(
    ("start", "end", "holds"),
    [
        ("2024-01-01", "2024-02-01", True),
        ("2024-03-01", "2024-02-01", False),
        ("2024-01-15", "2024-02", True),
        ("2024-01-15T10:00:00+01:00", "2024-01-15T09:30:00Z", True),
        ("2024-01-15", "2024-01", None),
    ],
)
def test_per_1_compares_dates_of_different_precision(start: str, end: str, holds: bool | None) -> None:
    encounter = {"resourceType": "Encounter", "period": {"start": start, "end": end}}
    assert fhirpath.compile(PER_1).evaluate_boolean(encounter, context=elements(encounter, "period")) is holds


def test_ref_1_and_dom_3_check_contained_references() -> None:
    obs = observation(
        contained=[{"resourceType": "Patient", "id": "p1"}, {"resourceType": "Device", "id": "orphan"}],
        subject={"reference": "#p1"},
        performer=[{"reference": "#missing"}],
    )
    ref_1 = fhirpath.compile(REF_1)
    subject, performer = elements(obs, "subject"), elements(obs, "performer")
    assert ref_1.evaluate_boolean(obs, context=subject) is True
    assert ref_1.evaluate_boolean(obs, context=performer) is False
    assert fhirpath.compile(DOM_3).evaluate_boolean(obs) is False
    del obs["contained"][1]
    assert fhirpath.compile(DOM_3).evaluate_boolean(obs) is True


def test_resolve_finds_contained_bundle_entries_and_asks_the_resolver_last() -> None:
    obs = observation(contained=[{"resourceType": "Patient", "id": "p1", "gender": "female"}],
                      subject={"reference": "#p1"})
    assert [to_system(n) for n in fhirpath.evaluate(obs, "subject.resolve().gender")] == ["female"]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "http://example.org/fhir/Patient/7", "resource": {"resourceType": "Patient", "id": "7"}},
            {"fullUrl": "http://example.org/fhir/Observation/1",
             "resource": observation(id="1", subject={"reference": "Patient/7"}, performer=[{"reference": "Org/1"}])},
        ],
    }
    found = fhirpath.evaluate(bundle, "entry[1].resource.subject.resolve()")
    assert [(n.type, n.data["id"]) for n in found] == [("Patient", "7")]
    asked: list[str] = []

    def resolver(ref: str) -> dict | None:
        asked.append(ref)
        return {"resourceType": "Organization", "id": "1", "name": "Leeds"} if ref == "Org/1" else None

    names = fhirpath.evaluate(bundle, "entry.resource.performer.resolve().name", resolver=resolver)
    assert [n.data for n in names] == ["Leeds"]
    assert asked == ["Org/1"]
    assert fhirpath.evaluate(bundle, "entry[1].resource.subject.resolve() is Patient") == [True]


def test_member_of_is_reported_as_not_supported() -> None:
    obs = observation(code={"coding": [{"system": "http://loinc.org", "code": "29463-7"}]})
    with pytest.raises(FhirPathNotSupported):
        fhirpath.evaluate(obs, "code.coding.memberOf('http://hl7.org/fhir/ValueSet/observation-codes')")


def test_errors_say_what_kind_they_are() -> None:
    with pytest.raises(fhirpath.FhirPathSyntaxError) as syntax:
        fhirpath.compile("name.where(")
    assert syntax.value.position >= 10
    with pytest.raises(FhirPathSemanticError):
        fhirpath.compile("Patient.identifier.startsWith('x')")
    with pytest.raises(FhirPathEvaluationError):
        fhirpath.evaluate({"resourceType": "Patient", "name": [{"family": "a"}, {"family": "b"}]},
                          "name.family.startsWith('a')")


def test_nodes_say_where_they_are() -> None:
    patient = {"resourceType": "Patient", "name": [{"given": ["Ann", "Bea"]}, {"given": ["Cat"]}]}
    assert [n.path for n in fhirpath.evaluate(patient, "name.given")] == [
        "Patient.name[0].given[0]", "Patient.name[0].given[1]", "Patient.name[1].given[0]"]
