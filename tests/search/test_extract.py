"""Index rows of resources, per the R4 search datatype table (https://hl7.org/fhir/R4/search.html#table)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from caregate.fhir.definitions import resource_types
from caregate.search.dates import MAX_US, MIN_US, parse_range
from caregate.search.extract import IndexRows, index_resource, normalize, plan_for
from caregate.search.registry import default_registry


def rows_of(rows: list[tuple[Any, ...]], code: str) -> list[tuple[Any, ...]]:
    """The rows of one parameter, without the code."""
    return [row[1:] for row in rows if row[0] == code]


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "meta": {
        "lastUpdated": "2024-05-01T10:00:00Z",
        "tag": [{"system": "urn:tags", "code": "vip", "display": "VIP"}],
        "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
        "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"],
        "source": "http://lab.example.org/feed",
    },
    "identifier": [
        {"system": "urn:oid:1.2.3", "value": "MRN-1", "type": {"text": "Medical record number"}},
        {"system": "urn:oid:1.2.3", "value": "MRN-1", "type": {"text": "Medical record number"}},
    ],
    "active": True,
    "name": [{"family": "Müller-Lüdenscheidt", "given": ["José", "Ana  María"], "prefix": ["Dr."]}],
    "telecom": [
        {"system": "phone", "value": "+1 555 0100"},
        {"system": "email", "value": "jose@example.org"},
    ],
    "gender": "male",
    "birthDate": "1980-05-17",
    "address": [{"line": ["1 Rue de la Paix"], "city": "Paris", "postalCode": "75002", "country": "FR"}],
    "generalPractitioner": [{"reference": "Practitioner/pr1"}],
    "managingOrganization": {"reference": "https://other.example/fhir/Organization/org9/_history/2"},
}


def test_patient_strings_are_normalized_and_exact() -> None:
    rows = index_resource(PATIENT)
    assert rows_of(rows.strings, "family") == [("muller-ludenscheidt", "Müller-Lüdenscheidt")]
    assert rows_of(rows.strings, "given") == [("jose", "José"), ("ana maria", "Ana  María")]
    assert ("dr.", "Dr.") in rows_of(rows.strings, "name")
    assert rows_of(rows.strings, "address-city") == [("paris", "Paris")]
    assert ("1 rue de la paix", "1 Rue de la Paix") in rows_of(rows.strings, "address")
    assert ("fr", "FR") in rows_of(rows.strings, "address")


def test_patient_tokens() -> None:
    rows = index_resource(PATIENT)
    assert rows_of(rows.tokens, "identifier") == [("urn:oid:1.2.3", "MRN-1", "Medical record number")]
    assert rows_of(rows.tokens, "gender") == [(None, "male", None)]
    assert rows_of(rows.tokens, "active") == [(None, "true", None)]
    assert rows_of(rows.tokens, "email") == [(None, "jose@example.org", None)]
    assert rows_of(rows.tokens, "phone") == [(None, "+1 555 0100", None)]
    assert rows_of(rows.tokens, "deceased") == [(None, "false", None)]
    assert rows_of(rows.tokens, "_tag") == [("urn:tags", "vip", "VIP")]
    assert rows_of(rows.tokens, "_security") == [
        ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R", None)
    ]
    assert rows_of(rows.tokens, "_id") == []  # the store answers _id from its own key


def test_patient_dates_references_and_uris() -> None:
    rows = index_resource(PATIENT)
    assert rows_of(rows.dates, "birthdate") == [parse_range("1980-05-17")]
    assert rows_of(rows.dates, "_lastUpdated") == [parse_range("2024-05-01T10:00:00Z")]
    assert rows_of(rows.references, "general-practitioner") == [
        ("Practitioner", "pr1", None, "Practitioner/pr1")
    ]
    assert rows_of(rows.references, "organization") == [
        ("Organization", "org9", "2", "https://other.example/fhir/Organization/org9/_history/2")
    ]
    assert rows_of(rows.uris, "_profile") == [
        ("http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient",)
    ]
    assert rows_of(rows.uris, "_source") == [("http://lab.example.org/feed",)]


def test_observation_value_quantity_and_codes() -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "2339-0", "display": "Glucose"}],
            "text": "Sugar",
        },
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-05-01T08:30:00+02:00",
        "valueQuantity": {
            "value": 5.4,
            "unit": "mmol/L",
            "system": "http://unitsofmeasure.org",
            "code": "mmol/L",
        },
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120},
            }
        ],
    }
    rows = index_resource(obs)
    assert rows_of(rows.quantities, "value-quantity") == [
        ("http://unitsofmeasure.org", "mmol/L", "mmol/L", 5.4)
    ]
    assert rows_of(rows.quantities, "component-value-quantity") == [(None, None, None, 120.0)]
    assert rows_of(rows.tokens, "code") == [("http://loinc.org", "2339-0", "Glucose"), (None, None, "Sugar")]
    assert rows_of(rows.tokens, "component-code") == [("http://loinc.org", "8480-6", None)]
    assert rows_of(rows.dates, "date") == [parse_range("2024-05-01T08:30:00+02:00")]
    assert rows_of(rows.references, "subject") == [("Patient", "p1", None, "Patient/p1")]
    assert rows_of(rows.references, "patient") == [("Patient", "p1", None, "Patient/p1")]
    assert rows.strings == []


def test_observation_other_value_types() -> None:
    rows = index_resource(
        {
            "resourceType": "Observation",
            "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]},
            "effectivePeriod": {"start": "2024-01-01"},
        }
    )
    assert rows_of(rows.tokens, "value-concept") == [("http://snomed.info/sct", "260385009", None)]
    assert rows_of(rows.dates, "date") == [(parse_range("2024-01-01")[0], MAX_US)]
    rows = index_resource(
        {"resourceType": "Observation", "valueString": "Trace Protein", "effectivePeriod": {"end": "2024"}}
    )
    assert rows_of(rows.strings, "value-string") == [("trace protein", "Trace Protein")]
    assert rows_of(rows.dates, "date") == [(MIN_US, parse_range("2024")[1])]


def test_condition_subject_reference_has_type_patient() -> None:
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/123", "display": "Someone"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]},
        "onsetAge": {"value": 42, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"},
        "abatementRange": {"low": {"value": 50, "code": "a"}, "high": {"value": 51, "code": "a"}},
    }
    rows = index_resource(condition)
    assert rows_of(rows.references, "subject") == [("Patient", "123", None, "Patient/123")]
    assert rows_of(rows.references, "patient") == [("Patient", "123", None, "Patient/123")]
    assert rows_of(rows.tokens, "code") == [("http://snomed.info/sct", "38341003", None)]
    assert rows_of(rows.quantities, "onset-age") == [("http://unitsofmeasure.org", "a", "a", 42.0)]
    assert rows_of(rows.quantities, "abatement-age") == [(None, "a", None, 50.0), (None, "a", None, 51.0)]


def test_group_subject_is_not_a_patient() -> None:
    rows = index_resource({"resourceType": "Condition", "subject": {"reference": "Group/g"}})
    assert rows_of(rows.references, "subject") == [("Group", "g", None, "Group/g")]
    assert rows_of(rows.references, "patient") == []


def test_contained_and_logical_references() -> None:
    rows = index_resource(
        {
            "resourceType": "Observation",
            "contained": [{"resourceType": "Practitioner", "id": "doc"}],
            "performer": [
                {"reference": "#doc"},
                {"reference": "urn:uuid:5b2b8e7e-4d8c-4a0b-a2f1-8d2c2f4a8b11"},
                {"identifier": {"system": "urn:npi", "value": "1"}},
            ],
        }
    )
    assert rows_of(rows.references, "performer") == [
        ("Practitioner", None, None, "#doc"),
        (None, None, None, "urn:uuid:5b2b8e7e-4d8c-4a0b-a2f1-8d2c2f4a8b11"),
    ]


def test_canonical_references_keep_the_version_apart() -> None:
    rows = index_resource(
        {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": "http://example.org/Questionnaire/intake|2.0",
        }
    )
    assert rows_of(rows.references, "questionnaire") == [
        (None, None, "2.0", "http://example.org/Questionnaire/intake")
    ]
    rows = index_resource(
        {
            "resourceType": "PlanDefinition",
            "relatedArtifact": [
                {"type": "depends-on", "resource": "http://example.org/Library/a"},
                {"type": "documentation", "url": "http://example.org/doc"},
            ],
        }
    )
    assert rows_of(rows.references, "depends-on") == [(None, None, None, "http://example.org/Library/a")]
    assert rows_of(rows.references, "derived-from") == []


def test_numbers_have_implicit_precision() -> None:
    rows = index_resource(
        {
            "resourceType": "RiskAssessment",
            "prediction": [{"probabilityDecimal": 0.25}, {"probabilityRange": {"low": {"value": 10}}}],
        }
    )
    low, high = rows_of(rows.numbers, "probability")[0]
    assert low == pytest.approx(0.245) and high == pytest.approx(0.255)
    assert rows_of(rows.numbers, "probability")[1] == (10.0, math.inf)
    rows = index_resource({"resourceType": "MolecularSequence", "variant": [{"start": 100, "end": 200}]})
    assert rows_of(rows.numbers, "variant-start") == [(99.5, 100.5)]


def test_money_and_duration_quantities() -> None:
    rows = index_resource({"resourceType": "ChargeItem", "priceOverride": {"value": 12.5, "currency": "EUR"}})
    assert rows_of(rows.quantities, "price-override") == [("urn:iso:std:iso:4217", "EUR", None, 12.5)]
    rows = index_resource(
        {"resourceType": "Encounter", "length": {"value": 30, "unit": "min", "code": "min"}}
    )
    assert rows_of(rows.quantities, "length") == [(None, "min", "min", 30.0)]


def test_timing_uses_its_outer_limits() -> None:
    rows = index_resource(
        {
            "resourceType": "Observation",
            "effectiveTiming": {
                "event": ["2024-01-05", "2024-01-01T10:00:00Z"],
                "repeat": {"boundsPeriod": {"start": "2024-01-03", "end": "2024-02"}},
            },
        }
    )
    assert rows_of(rows.dates, "date") == [
        (parse_range("2024-01-01T10:00:00Z")[0], parse_range("2024-02")[1])
    ]
    rows = index_resource({"resourceType": "Observation", "effectiveTiming": {"event": ["2024-01-05"]}})
    assert rows_of(rows.dates, "date") == [parse_range("2024-01-05")]


def test_bundle_composition_is_an_inline_reference() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c1"}}],
    }
    rows = index_resource(bundle)
    assert rows_of(rows.references, "composition") == [("Composition", "c1", None, "Composition/c1")]
    assert rows_of(rows.tokens, "type") == [(None, "document", None)]


def test_invalid_values_are_skipped_not_fatal() -> None:
    rows = index_resource(
        {
            "resourceType": "Patient",
            "birthDate": "not-a-date",
            "name": [{"family": "   "}],
            "identifier": [{}],
            "gender": 7,
        }
    )
    assert rows.dates == [] and rows.strings == []
    assert rows_of(rows.tokens, "identifier") == [] and rows_of(rows.tokens, "gender") == []


def test_unknown_resource_type_gives_no_rows() -> None:
    assert index_resource({"resourceType": "NotAType", "id": "x"}) == IndexRows()
    assert index_resource({"id": "x"}) == IndexRows()


def test_every_type_indexes_a_minimal_resource() -> None:
    for rtype in sorted(resource_types()):
        rows = index_resource({"resourceType": rtype, "id": "x", "meta": {"tag": [{"code": "t"}]}})
        assert rows.tokens[:1] == [("_tag", None, "t", None)], rtype
        assert plan_for(rtype) is plan_for(rtype)


def test_every_indexable_parameter_has_a_plan() -> None:
    registry = default_registry()
    for rtype in resource_types():
        planned = {step.param.code for step in plan_for(rtype)}
        for code, param in registry.for_type(rtype).items():
            if param.type not in ("composite", "special") and param.expression and code != "_id":
                assert code in planned, (rtype, code)


def test_custom_registry_parameter_on_an_extension() -> None:
    url = "http://example.org/StructureDefinition/birth-place"
    registry = default_registry().with_records(
        [
            {
                "url": "http://example.org/SearchParameter/birth-place",
                "code": "birth-place",
                "base": ["Patient"],
                "type": "string",
                "expression": f"Patient.extension('{url}').value.as(Address)",
            }
        ]
    )
    patient = {"resourceType": "Patient", "extension": [{"url": url, "valueAddress": {"city": "Zürich"}}]}
    rows = index_resource(patient, registry)
    assert rows_of(rows.strings, "birth-place") == [("zurich", "Zürich")]
    assert rows_of(index_resource(patient).strings, "birth-place") == []


def test_normalize() -> None:
    assert normalize("  José   MÜLLER\t") == "jose muller"
    assert normalize("Ǆemal") == "dzemal"
    assert normalize("ﬁne") == "fine"
    assert normalize("") == ""
