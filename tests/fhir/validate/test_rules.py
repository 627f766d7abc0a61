"""One defect per instance, for each validation rule: the issue is found with its severity, code and location."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from caregate.fhir.validate import has_errors, outcome, validate

NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">A patient</div>'}
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "text": NARRATIVE,
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
    "name": [{"family": "Khan", "given": ["Aisha"]}],
    "gender": "female",
    "birthDate": "1984-02-29",
    "managingOrganization": {"reference": "Organization/o1"},
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "text": NARRATIVE,
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": "Patient/p1"},
    "effectivePeriod": {"start": "2024-01-01T10:00:00Z", "end": "2024-01-01T11:00:00Z"},
    "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
}


def _with(base: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(base)
    node = out
    for step in path[:-1]:
        node = node[step]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()

# (case, resource, severity, code, location)
CASES = [
    ("unknown element", _with(PATIENT, ("colour",), "blue"), "error", "structure", "Patient.colour"),
    ("unknown nested element", _with(PATIENT, ("name", 0, "surname"), "Khan"), "error", "structure",
     "Patient.name[0].surname"),
    ("string where object", _with(PATIENT, ("managingOrganization",), "Organization/o1"), "error", "structure",
     "Patient.managingOrganization"),
    ("object where array", _with(PATIENT, ("name",), {"family": "Khan"}), "error", "structure", "Patient.name"),
    ("array where single", _with(PATIENT, ("gender",), ["female"]), "error", "structure", "Patient.gender"),
    ("number where string", _with(PATIENT, ("name", 0, "family"), 42), "error", "structure",
     "Patient.name[0].family"),
    ("boolean as string", _with(PATIENT, ("active",), "true"), "error", "structure", "Patient.active"),
    ("bad date", _with(PATIENT, ("birthDate",), "1984-13-01"), "error", "value", "Patient.birthDate"),
    ("impossible date", _with(PATIENT, ("birthDate",), "1983-02-29"), "error", "value", "Patient.birthDate"),
    ("dateTime without zone", _with(OBSERVATION, ("effectivePeriod", "start"), "2024-01-01T10:00:00"), "error",
     "value", "Observation.effective.ofType(Period).start"),
    ("bad instant", _with(OBSERVATION, ("issued",), "2024-01-01"), "error", "value", "Observation.issued"),
    ("bad time", {"resourceType": "Observation", "status": "final", "code": {"text": "t"}, "valueTime": "25:00:00"},
     "error", "value", "Observation.value.ofType(time)"),
    ("bad id", _with(PATIENT, ("id",), "has space"), "error", "value", "Patient.id"),
    ("uri with space", _with(PATIENT, ("implicitRules",), "http://a b"), "error", "value", "Patient.implicitRules"),
    ("bad oid", _with(PATIENT, ("identifier", 0, "system"), "urn:oid:1.2.x"), "error", "value",
     "Patient.identifier[0].system"),
    ("bad uuid", {"resourceType": "Basic", "code": {"text": "t"}, "identifier": [{"system": "urn:uuid:XYZ"}]},
     "error", "value", "Basic.identifier[0].system"),
    ("decimal as string", _with(OBSERVATION, ("valueQuantity", "value"), "72"), "error", "structure",
     "Observation.value.ofType(Quantity).value"),
    ("bad code", _with(PATIENT, ("gender",), "fe male "), "error", "value", "Patient.gender"),
    ("bad base64", {"resourceType": "Binary", "contentType": "text/plain", "data": "abc$"}, "error", "value",
     "Binary.data"),
    ("integer out of range", {"resourceType": "Patient", "multipleBirthInteger": 2**31}, "error", "value",
     "Patient.multipleBirth.ofType(integer)"),
    ("fraction in integer", {"resourceType": "Patient", "multipleBirthInteger": 1.5}, "error", "structure",
     "Patient.multipleBirth.ofType(integer)"),
    ("positiveInt zero", {"resourceType": "Patient", "photo": [{"contentType": "image/png", "size": 1,
                                                                "data": "AA=="}],
                          "communication": [{"language": {"text": "en"}}],
                          "contact": [{"name": {"text": "x"}}], "link": [{"other": {"reference": "Patient/2"},
                                                                          "type": "seealso"}],
                          "_birthDate": {"extension": [{"url": "http://x.org/e", "valueInteger": 1}]},
                          "generalPractitioner": [{"reference": "Practitioner/1"}],
                          "multipleBirthInteger": 0}, None, None, None),
    ("empty string", _with(PATIENT, ("name", 0, "family"), ""), "error", "value", "Patient.name[0].family"),
    ("empty object", _with(PATIENT, ("name", 0), {}), "error", "value", "Patient.name[0]"),
    ("empty array", _with(PATIENT, ("name",), []), "error", "structure", "Patient.name"),
    ("null value", _with(PATIENT, ("gender",), None), "error", "structure", "Patient.gender"),
    ("companion not an object", _with(PATIENT, ("_birthDate",), "x"), "error", "structure", "Patient.birthDate"),
    ("companion of unknown element", _with(PATIENT, ("_colour",), {"id": "a"}), "error", "structure",
     "Patient._colour"),
    ("companion with only an id", {"resourceType": "Patient", "_implicitRules": {"id": "a"}}, "error", "value",
     "Patient.implicitRules"),
    ("companion array misaligned", _with(PATIENT, ("name", 0, "_given"), [None, {"id": "x"}]), "error",
     "structure", "Patient.name[0].given"),
    ("two choice types", _with(OBSERVATION, ("valueString",), "72"), "error", "structure", "Observation"),
    ("choice type not allowed", _with(OBSERVATION, ("valueMoney",), {"value": 1}), "error", "structure",
     "Observation.valueMoney"),
    ("no resourceType", _with(PATIENT, ("resourceType",), _DELETE), "error", "structure", "Resource"),
    ("unknown resourceType", _with(PATIENT, ("resourceType",), "Patientt"), "error", "structure", "resourceType"),
    ("abstract resourceType", {"resourceType": "DomainResource"}, "error", "structure", "resourceType"),
    ("contained defect", _with(PATIENT, ("contained",), [{"resourceType": "Organization", "id": "o",
                                                          "active": "yes"}]),
     "error", "structure", "Patient.contained[0].active"),
    ("contained not referenced (dom-3)", _with(PATIENT, ("contained",), [{"resourceType": "Organization", "id": "o",
                                                                          "name": "x"}]),
     "error", "invariant", "Patient"),
    ("missing required element", _with(OBSERVATION, ("status",), _DELETE), "error", "required", "Observation"),
    ("missing required in backbone", {"resourceType": "Patient", "link": [{"type": "seealso"}]}, "error",
     "required", "Patient.link[0]"),
    ("too many", {"resourceType": "Observation", "status": "final", "code": {"text": "t"},
                  "valueSampledData": {"origin": {"value": 1}, "period": 1, "dimensions": 1, "data": "1"},
                  "referenceRange": [{"low": {"value": 1}, "low_": 1}]}, "error", "structure",
     "Observation.referenceRange[0].low_"),
    ("required binding", _with(PATIENT, ("gender",), "femal"), "error", "code-invalid", "Patient.gender"),
    ("required binding on Coding", {"resourceType": "Observation", "status": "final", "code": {"text": "t"},
                                    "meta": {"security": [{"system": "http://x.org", "code": "Z"}]},
                                    "subject": {"reference": "Patient/1"}}, None, None, None),
    ("required binding on CodeableConcept",
     {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"},
      "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                     "code": "gone"}]}},
     "error", "code-invalid", "AllergyIntolerance.clinicalStatus"),
    ("extensible binding", _with(PATIENT, ("maritalStatus",), {"coding": [{"system": "http://x.org/ms",
                                                                            "code": "Z"}]}),
     "warning", "code-invalid", "Patient.maritalStatus"),
    ("preferred binding", _with(PATIENT, ("communication",), [{"language": {"coding": [
        {"system": "urn:ietf:bcp:47", "code": "en_GB!"}]}}]), "warning", "code-invalid",
     "Patient.communication[0].language"),
    ("unexpandable ValueSet", {"resourceType": "Invoice", "status": "draft",
                                "totalNet": {"value": 1, "currency": "GBP"}}, "warning", "not-supported",
     "Invoice.totalNet.currency"),
    ("MIME type grammar", {"resourceType": "Binary", "contentType": "not a mime"}, "error", "code-invalid",
     "Binary.contentType"),
    ("invariant (per-1)", _with(OBSERVATION, ("effectivePeriod", "end"), "2023-01-01T10:00:00Z"), "error",
     "invariant", "Observation.effective.ofType(Period)"),
    ("invariant on resource (obs-6)", _with(OBSERVATION, ("dataAbsentReason",), {"text": "x"}), "error", "invariant",
     "Observation"),
    ("ext-1", _with(PATIENT, ("extension",), [{"url": "http://x.org/e", "valueString": "a",
                                                "extension": [{"url": "b", "valueString": "c"}]}]), "error",
     "invariant", "Patient.extension[0]"),
    ("relative extension url", _with(PATIENT, ("extension",), [{"url": "colour", "valueString": "a"}]), "error",
     "value", "Patient.extension[0].url"),
    ("narrative without namespace", _with(PATIENT, ("text", "div"), "<div>A patient</div>"), "error", "value",
     "Patient.text.div"),
    ("narrative without content (txt-2)", _with(PATIENT, ("text", "div"),
                                                 '<div xmlns="http://www.w3.org/1999/xhtml"> </div>'), "error",
     "invariant", "Patient.text.div"),
    ("no narrative (dom-6)", _with(PATIENT, ("text",), _DELETE), "warning", "invariant", "Patient"),
    ("reference target type", _with(PATIENT, ("managingOrganization",), {"reference": "Patient/p2"}), "error",
     "structure", "Patient.managingOrganization"),
    ("reference to unknown type", _with(PATIENT, ("managingOrganization",), {"reference": "Organisation/o1"}),
     "error", "structure", "Patient.managingOrganization"),
    ("contained reference target type", _with(PATIENT, ("contained",), [{"resourceType": "Patient", "id": "c"}])
     | {"managingOrganization": {"reference": "#c"}}, "error", "structure", "Patient.managingOrganization"),
    ("NHS number check digit", _with(PATIENT, ("identifier", 0, "value"), "9434765918"), "error", "value",
     "Patient.identifier[0].value"),
    ("NHS number format", _with(PATIENT, ("identifier", 0, "value"), "943 476 5919"), "error", "value",
     "Patient.identifier[0].value"),
    ("NHS number in a reference identifier", _with(OBSERVATION, ("subject",), {"identifier": {
        "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "1234567890"}}), "error", "value",
     "Observation.subject.identifier.value"),
    ("ODS code", {"resourceType": "Organization", "identifier": [
        {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "a81-001"}]}, "error", "value",
     "Organization.identifier[0].value"),
    ("attachment size", {"resourceType": "Binary", "contentType": "text/plain", "data": "aGVsbG8="} | {}, None, None,
     None),
    ("attachment size mismatch", _with(PATIENT, ("photo",), [{"contentType": "image/png", "data": "aGVsbG8=",
                                                                "size": 6}]), "error", "value",
     "Patient.photo[0].size"),
    ("coding system not absolute", _with(OBSERVATION, ("code", "coding", 0, "system"), "loinc"), "error", "value",
     "Observation.code.coding[0].system"),
    ("bundle fullUrl not absolute", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "Patient/1", "resource": {"resourceType": "Patient"}}]}, "error", "value",
     "Bundle.entry[0].fullUrl"),
    ("bundle entry defect", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0b2c8e44-2f5a-4d0f-9f8a-3f1f8f3b7c11",
         "resource": {"resourceType": "Patient", "gender": "f"}}]}, "error", "code-invalid",
     "Bundle.entry[0].resource.gender"),
    ("bundle link relation twice", {"resourceType": "Bundle", "type": "searchset", "link": [
        {"relation": "self", "url": "http://x.org/fhir/Patient"}, {"relation": "self", "url": "http://x.org/b"}]},
     "error", "structure", "Bundle.link[1]"),
    ("search result without id", {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "urn:uuid:0b2c8e44-2f5a-4d0f-9f8a-3f1f8f3b7c11", "resource": {"resourceType": "Patient"},
         "search": {"mode": "match"}}]}, "error", "required", "Bundle.entry[0].resource"),
    ("search outcome not an OperationOutcome", {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "urn:uuid:0b2c8e44-2f5a-4d0f-9f8a-3f1f8f3b7c11", "resource": {"resourceType": "Patient",
                                                                                  "id": "1"},
         "search": {"mode": "outcome"}}]}, "error", "structure", "Bundle.entry[0].resource"),
    ("RESTful fullUrl, resource without id", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://x.org/fhir/Patient/1", "resource": {"resourceType": "Patient"}}]}, "error", "value",
     "Bundle.entry[0]"),
    ("reference resolving to another type in the Bundle", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://x.org/fhir/Patient/1", "resource": {
            "resourceType": "Patient", "id": "1", "managingOrganization": {"reference": "Organization/2"}}},
        {"fullUrl": "http://x.org/fhir/Organization/2", "resource": {"resourceType": "Patient", "id": "2"}}]},
     "error", "structure", "Bundle.entry[0].resource.managingOrganization"),
    ("document reference not in the Bundle", {"resourceType": "Bundle", "type": "document",
                                              "identifier": {"system": "urn:ietf:rfc:3986",
                                                             "value": "urn:uuid:0b2c8e44-2f5a-4d0f-9f8a-3f1f8f3b7c12"},
                                              "timestamp": "2024-01-01T00:00:00Z", "entry": [
        {"fullUrl": "http://x.org/fhir/Composition/1", "resource": {
            "resourceType": "Composition", "id": "1", "status": "final", "type": {"text": "t"}, "date": "2024",
            "title": "t", "author": [{"reference": "Practitioner/9"}]}}]}, "error", "not-found",
     "Bundle.entry[0].resource.author[0]"),
    ("coding system as an array", _with(PATIENT, ("maritalStatus",), {"coding": [{"system": ["x"], "code": "M"}]}),
     "error", "structure", "Patient.maritalStatus.coding[0].system"),
    ("contained not an array", _with(PATIENT, ("contained",), 7) | {"managingOrganization": {"reference": "#o"}},
     "error", "structure", "Patient.contained"),
    ("bundle invariant (bdl-3)", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"request": {"method": "GET", "url": "Patient"}}]}, "error", "invariant", "Bundle"),
]


@pytest.mark.parametrize(("resource", "severity", "code", "location"),
                         [pytest.param(r, s, c, loc, id=name) for name, r, s, c, loc in CASES])
def test_defect_is_found_at_its_location(resource: dict, severity: str | None, code: str | None,
                                         location: str | None) -> None:
    issues = validate(resource)
    if severity is None:
        assert not has_errors(issues), issues
        return
    found = [(i.severity, i.code, i.expression[0]) for i in issues]
    assert (severity, code, location) in found, found


@pytest.mark.parametrize("resource", [PATIENT, OBSERVATION], ids=["Patient", "Observation"])
def test_valid_baselines_have_no_issue(resource: dict) -> None:
    assert validate(resource) == []


def test_issues_are_sorted_errors_first_then_by_location_and_deduplicated() -> None:
    resource = {"resourceType": "Patient", "gender": "x", "birthDate": "x", "name": [{"family": ""}, {"family": ""}]}
    issues = validate(resource)
    keys = [({"error": 0, "warning": 1}[i.severity], i.expression[0]) for i in issues]
    assert keys == sorted(keys)
    assert len({(i.severity, i.code, i.diagnostics, i.expression) for i in issues}) == len(issues)
    assert [i.expression[0] for i in issues if i.severity == "error"] == [
        "Patient.birthDate", "Patient.gender", "Patient.name[0].family", "Patient.name[1].family"]


def test_outcome_and_messages_are_human() -> None:
    issues = validate(_with(PATIENT, ("gender",), "femal"))
    body = outcome(issues)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] == [{"severity": "error", "code": "code-invalid", "expression": ["Patient.gender"],
                              "diagnostics": "The code 'femal' is not in the ValueSet "
                                             "http://hl7.org/fhir/ValueSet/administrative-gender, which has a "
                                             "required binding here."}]
    assert outcome([])["issue"][0]["severity"] == "information"


def test_unknown_profile_is_a_warning_naming_it() -> None:
    declared = _with(PATIENT, ("meta",), {"profile": ["https://example.org/StructureDefinition/Other-Patient"]})
    issues = validate(declared)
    assert [(i.severity, i.code, i.expression[0]) for i in issues] == [
        ("warning", "not-supported", "Patient.meta.profile[0]")]
    assert "Other-Patient" in issues[0].diagnostics
    assert validate(PATIENT, "http://hl7.org/fhir/StructureDefinition/Patient") == []
    assert validate(PATIENT, "http://example.org/StructureDefinition/other")[0].severity == "warning"


def test_invariant_the_engine_cannot_run_is_a_warning_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from caregate.fhir.validate import invariants
    from caregate.fhir.validate.model import Constraint

    reports: list[tuple] = []
    broken = Constraint("tst-1", "error", "never runs", "name.where(")
    invariants.run_constraint(broken, None, None, "Patient", lambda *a: reports.append(a))  # type: ignore[arg-type]
    assert reports and reports[0][0] == "warning" and "tst-1" in reports[0][2]


def test_contained_resource_referenced_from_the_narrative_counts_as_referenced() -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><img src="#pic" alt="x"/></div>'
    resource = {**PATIENT, "text": {"status": "generated", "div": div},
                "contained": [{"resourceType": "Binary", "id": "pic", "contentType": "image/png"}]}
    assert validate(resource) == []


def test_non_object_resource() -> None:
    assert [(i.severity, i.expression) for i in validate(["not", "a", "resource"])] == [("error", ("Resource",))]
