"""Validation against profiles: UK Core (shipped with generated snapshots) and profiles given at run time.

One defect per instance, each caught with its location: slice cardinality, closed / openAtEnd / ordered
slicing, fixed and pattern values, extension value types, reference targets narrowed by targetProfile and
profile invariants; discriminators of each kind; lenient reporting; unknown profiles and extensions.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from caregate.fhir.validate import has_errors, validate

UK = "https://fhir.hl7.org.uk/StructureDefinition/"
NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">text</div>'}
NHS = {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
PATIENT: dict[str, Any] = {"resourceType": "Patient", "text": NARRATIVE, "identifier": [NHS],
                           "name": [{"family": "Khan"}], "meta": {"profile": [UK + "UKCore-Patient"]}}
LOINC_BP = {"system": "http://loinc.org", "code": "85354-9"}
MMHG = {"value": 120, "unit": "millimeter of mercury", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}


def _component(text: str, loinc: str) -> dict[str, Any]:
    return {"code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": text},
                                {"system": "http://snomed.info/sct", "code": "72313002"}], "text": text},
            "valueQuantity": MMHG}


BLOOD_PRESSURE: dict[str, Any] = {
    "resourceType": "Observation", "text": NARRATIVE, "status": "final",
    "meta": {"profile": [UK + "UKCore-Observation-VitalSigns-BloodPressure"]},
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "vital-signs"}]}],
    "code": {"coding": [LOINC_BP, {"system": "http://snomed.info/sct", "code": "75367002"}]},
    "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-01T10:00:00Z",
    "component": [_component("Systolic blood pressure", "8480-6"), _component("Diastolic blood pressure", "8462-4")],
}
HEART_RATE: dict[str, Any] = {
    "resourceType": "Observation", "text": NARRATIVE, "status": "final",
    "meta": {"profile": [UK + "UKCore-Observation-VitalSigns-HeartRate"]},
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "vital-signs"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"},
                        {"system": "http://snomed.info/sct", "code": "364075005"}]},
    "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-01T10:00:00Z",
    "valueQuantity": {"value": 72, "unit": "per minute", "system": "http://unitsofmeasure.org", "code": "/min"},
}


def _errors(resource: dict, profile: str | None = None, **kw: Any) -> list[tuple[str, str, str]]:
    return [(i.code, i.expression[0], i.diagnostics) for i in validate(resource, profile, **kw)
            if i.severity == "error"]


def _locations(resource: dict, profile: str | None = None, **kw: Any) -> list[str]:
    return [loc for _, loc, _ in _errors(resource, profile, **kw)]


def test_conforming_instances_have_no_errors() -> None:
    assert _errors(PATIENT) == []
    assert _errors(BLOOD_PRESSURE) == []
    assert _errors(HEART_RATE) == []


def test_slice_maximum() -> None:
    two = copy.deepcopy(PATIENT)
    two["identifier"].append(dict(NHS))
    found = _errors(two)
    assert [(code, loc) for code, loc, _ in found] == [("structure", "Patient")]
    assert "Patient.identifier:nhsNumber: at most 1 allowed, but found 2" in found[0][2]
    assert "UKCore-Patient" in found[0][2]


def test_slice_minimum_within_a_slice() -> None:
    bp = copy.deepcopy(BLOOD_PRESSURE)
    bp["component"][0]["code"]["coding"] = bp["component"][0]["code"]["coding"][1:]  # no LOINC coding left
    found = _errors(bp)
    assert [loc for _, loc, _ in found] == ["Observation.component[0].code"]
    assert "coding:loinc: at least 1 required, but found 0" in found[0][2]


def test_closed_slicing_rejects_an_item_of_no_slice() -> None:
    bp = copy.deepcopy(BLOOD_PRESSURE)
    bp["component"].append(_component("Mean blood pressure", "8478-0"))
    found = _errors(bp)
    assert ("structure", "Observation.component[2]") in [(c, loc) for c, loc, _ in found]
    assert any("closed" in message for _, _, message in found)


def test_fixed_value() -> None:
    hr = copy.deepcopy(HEART_RATE)
    hr["valueQuantity"]["code"] = "{beats}/min"
    found = _errors(hr)
    assert [(c, loc) for c, loc, _ in found] == [("value", "Observation.value.ofType(Quantity).code")]
    assert "'/min'" in found[0][2]


def test_fixed_value_that_decides_a_slice() -> None:
    hr = copy.deepcopy(HEART_RATE)
    hr["code"]["coding"][0]["code"] = "8310-5"  # a LOINC code, but not heart rate
    assert _locations(hr) == ["Observation.code.coding[0].code"]


def test_wrong_extension_value_type() -> None:
    patient = copy.deepcopy(PATIENT)
    patient["extension"] = [{"url": UK + "Extension-UKCore-EthnicCategory", "valueString": "A"}]
    found = _errors(patient)
    assert ("structure", "Patient.extension[0].value.ofType(string)") in [(c, loc) for c, loc, _ in found]


def test_complex_extension_checked_against_its_definition() -> None:
    patient = copy.deepcopy(PATIENT)
    patient["extension"] = [{"url": UK + "Extension-UKCore-ContactPreference",
                             "extension": [{"url": "PreferredContactTimes", "valueBoolean": True}]}]
    assert "Patient.extension[0].extension[0].value.ofType(boolean)" in _locations(patient)


def test_unknown_extension_is_a_warning() -> None:
    patient = copy.deepcopy(PATIENT)
    patient["extension"] = [{"url": "https://example.org/StructureDefinition/shoe-size", "valueInteger": 44}]
    issues = validate(patient)
    assert not has_errors(issues)
    assert [(i.severity, i.code, i.expression[0]) for i in issues] == [
        ("warning", "not-supported", "Patient.extension[0]")]


def test_reference_target_narrowed_by_target_profile() -> None:
    lab = {"resourceType": "Observation", "text": NARRATIVE, "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": "laboratory"}]}],
           "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1022441000000102"}]},
           "subject": {"reference": "Group/g1"}, "valueString": "positive"}
    assert _locations(lab, UK + "UKCore-Observation-Lab") == ["Observation.subject"]
    lab["subject"] = {"reference": "Patient/p1"}
    assert _errors(lab, UK + "UKCore-Observation-Lab") == []
    assert _errors({**lab, "subject": {"reference": "Group/g1"}}) == []  # the base allows a Group


def test_profile_invariant() -> None:
    immunization = {"resourceType": "Immunization", "text": NARRATIVE, "status": "not-done",
                    "vaccineCode": {"coding": [{"system": "http://snomed.info/sct", "code": "39114911000001105"}]},
                    "patient": {"reference": "Patient/p1"}, "occurrenceDateTime": "2024-01-01"}
    found = _errors(immunization, UK + "UKCore-Immunization")
    assert [(c, loc) for c, loc, _ in found] == [("invariant", "Immunization")]
    assert "ukcore-imm-001" in found[0][2]
    immunization["statusReason"] = {"text": "refused"}
    assert _errors(immunization, UK + "UKCore-Immunization") == []


def test_lenient_reports_profile_errors_as_warnings() -> None:
    two = copy.deepcopy(PATIENT)
    two["identifier"].append(dict(NHS))
    issues = validate(two, profile_errors="warning")
    assert not has_errors(issues)
    assert [(i.severity, i.expression[0]) for i in issues] == [("warning", "Patient")]


def test_declared_profiles_of_bundle_entries() -> None:
    two = copy.deepcopy(PATIENT)
    two["identifier"].append(dict(NHS))
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:8f1c3c1e-0b7e-4d5a-9a53-1f0e4c6b2a10", "resource": HEART_RATE},
        {"fullUrl": "urn:uuid:6a3f6f0e-2f1d-4c43-8f53-0f6f2b8d9e21", "resource": two}]}
    found = _errors(bundle)
    assert [loc for _, loc, _ in found] == ["Bundle.entry[1].resource"]
    assert "identifier:nhsNumber: at most 1" in found[0][2]


def test_profile_for_another_type_is_an_error() -> None:
    assert _locations(PATIENT, UK + "UKCore-Observation") == ["Patient"]


def test_unknown_profile_is_a_warning() -> None:
    issues = validate(PATIENT, "https://example.org/StructureDefinition/nothing")
    assert [(i.severity, i.code) for i in issues] == [("warning", "not-supported")]


# Profiles given at run time, differential only: the snapshot is generated on the fly.

def _profile(url: str, type_: str, elements: list[dict[str, Any]], base: str | None = None) -> dict[str, Any]:
    return {"resourceType": "StructureDefinition", "url": url, "name": url.rsplit("/", 1)[-1], "status": "active",
            "kind": "resource", "abstract": False, "type": type_, "derivation": "constraint",
            "baseDefinition": base or f"http://hl7.org/fhir/StructureDefinition/{type_}",
            "differential": {"element": elements}}


CATEGORY_PATTERN = _profile("https://example.org/StructureDefinition/vitals", "Observation", [
    {"id": "Observation.category", "path": "Observation.category", "min": 1,
     "patternCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                            "code": "vital-signs"}]}},
])


def test_pattern_mismatch_in_a_runtime_profile() -> None:
    obs = copy.deepcopy(HEART_RATE)
    del obs["meta"]
    url = CATEGORY_PATTERN["url"]
    assert _errors(obs, url, definitions=[CATEGORY_PATTERN]) == []
    obs["category"][0]["coding"][0]["code"] = "laboratory"
    assert _locations(obs, url, definitions=[CATEGORY_PATTERN]) == ["Observation.category[0]"]
    del obs["category"]
    assert _locations(obs, url, definitions=[CATEGORY_PATTERN]) == ["Observation"]


def _identifier_slicing(rules: str, ordered: bool, kind: str = "value", extra: dict | None = None) -> dict:
    return _profile("https://example.org/StructureDefinition/ids", "Patient", [
        {"id": "Patient.identifier", "path": "Patient.identifier",
         "slicing": {"discriminator": [{"type": kind, "path": "system"}], "rules": rules, "ordered": ordered}},
        {"id": "Patient.identifier:nhs", "path": "Patient.identifier", "sliceName": "nhs", "min": 1, "max": "1"},
        {"id": "Patient.identifier:nhs.system", "path": "Patient.identifier.system",
         **(extra or {"fixedUri": "https://fhir.nhs.uk/Id/nhs-number"})},
        {"id": "Patient.identifier:mrn", "path": "Patient.identifier", "sliceName": "mrn"},
        {"id": "Patient.identifier:mrn.system", "path": "Patient.identifier.system",
         "fixedUri": "https://example.org/mrn"},
    ])


MRN = {"system": "https://example.org/mrn", "value": "123"}
OTHER = {"system": "https://example.org/other", "value": "x"}


@pytest.mark.parametrize(("rules", "ordered", "identifiers", "bad"), [
    ("open", False, [OTHER, MRN, NHS], []),
    ("closed", False, [NHS, OTHER], ["Patient.identifier[1]"]),
    ("closed", False, [MRN], ["Patient"]),  # nhs slice has min 1
    ("openAtEnd", False, [NHS, OTHER], []),
    ("openAtEnd", False, [OTHER, NHS], ["Patient.identifier[1]"]),
    ("open", True, [NHS, MRN], []),
    ("open", True, [MRN, NHS], ["Patient.identifier[1]"]),
])
def test_slicing_rules(rules: str, ordered: bool, identifiers: list, bad: list[str]) -> None:
    sd = _identifier_slicing(rules, ordered)
    patient = {"resourceType": "Patient", "text": NARRATIVE, "identifier": identifiers}
    assert _locations(patient, sd["url"], definitions=[sd]) == bad


def test_pattern_discriminator() -> None:
    sd = _identifier_slicing("closed", False, "pattern", {"patternUri": "https://fhir.nhs.uk/Id/nhs-number"})
    patient = {"resourceType": "Patient", "text": NARRATIVE, "identifier": [NHS, MRN]}
    assert _errors(patient, sd["url"], definitions=[sd]) == []
    patient["identifier"] = [OTHER, NHS]
    assert _locations(patient, sd["url"], definitions=[sd]) == ["Patient.identifier[0]"]


def test_exists_discriminator() -> None:
    sd = _profile("https://example.org/StructureDefinition/telecom", "Patient", [
        {"id": "Patient.telecom", "path": "Patient.telecom",
         "slicing": {"discriminator": [{"type": "exists", "path": "period"}], "rules": "closed"}},
        {"id": "Patient.telecom:dated", "path": "Patient.telecom", "sliceName": "dated", "max": "1"},
        {"id": "Patient.telecom:dated.period", "path": "Patient.telecom.period", "min": 1},
        {"id": "Patient.telecom:plain", "path": "Patient.telecom", "sliceName": "plain"},
        {"id": "Patient.telecom:plain.period", "path": "Patient.telecom.period", "max": "0"},
    ])
    dated = {"system": "phone", "value": "1", "period": {"start": "2024-01-01"}}
    patient = {"resourceType": "Patient", "text": NARRATIVE, "telecom": [{"system": "phone", "value": "2"}, dated]}
    assert _errors(patient, sd["url"], definitions=[sd]) == []
    patient["telecom"].append(dated)
    assert _locations(patient, sd["url"], definitions=[sd]) == ["Patient"]  # two in the slice of max 1


def test_type_discriminator_on_a_choice() -> None:
    sd = _profile("https://example.org/StructureDefinition/value", "Observation", [
        {"id": "Observation.value[x]", "path": "Observation.value[x]",
         "slicing": {"discriminator": [{"type": "type", "path": "$this"}], "rules": "closed"}},
        {"id": "Observation.value[x]:valueQuantity", "path": "Observation.value[x]", "sliceName": "valueQuantity",
         "type": [{"code": "Quantity"}]},
    ])
    obs = copy.deepcopy(HEART_RATE)
    del obs["meta"]
    assert _errors(obs, sd["url"], definitions=[sd]) == []
    del obs["valueQuantity"]
    obs["valueString"] = "72"
    assert _locations(obs, sd["url"], definitions=[sd]) == ["Observation.value.ofType(string)"]


def test_profile_on_a_runtime_profile_of_a_uk_core_profile() -> None:
    sd = _profile("https://example.org/StructureDefinition/strict-patient", "Patient", [
        {"id": "Patient.identifier:nhsNumber", "path": "Patient.identifier", "sliceName": "nhsNumber", "min": 1},
        {"id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1},
    ], base=UK + "UKCore-Patient")
    patient = {**copy.deepcopy(PATIENT), "birthDate": "1990-01-01"}
    assert _errors(patient, sd["url"], definitions=[sd]) == []
    del patient["birthDate"]
    patient["identifier"] = [MRN, dict(NHS), dict(NHS)]
    found = _errors(patient, sd["url"], definitions=[sd])
    assert {(loc, message.split(":")[0] + ":" + message.split(":")[1]) for _, loc, message in found} >= {
        ("Patient", "Patient.birthDate: at least 1 required, but found 0. (profile https"),
    }
    assert any("identifier:nhsNumber: at most 1" in m for _, _, m in found)  # inherited from UK Core


def test_differential_that_cannot_be_applied_is_a_warning() -> None:
    sd = _profile("https://example.org/StructureDefinition/broken", "Patient", [
        {"id": "Patient.nothing", "path": "Patient.nothing", "min": 1}])
    issues = validate(PATIENT, sd["url"], definitions=[sd])
    assert [(i.severity, i.code) for i in issues if "broken" in i.diagnostics] == [("warning", "not-supported")]


@pytest.mark.parametrize("elements", [
    [{"id": "Patient.name", "path": "Patient.name", "min": "1"}],
    [{"id": "Patient.name", "path": "Patient.name", "max": "many"}],
    [{"id": "Patient.name", "path": "Patient.name", "type": "HumanName"}],
    [{"id": "Patient.name", "path": "Patient.name", "binding": {"strength": "required", "valueSet": 5}}],
    [{"id": "Patient.name", "path": "Patient.name", "slicing": {"discriminator": [{"type": "value", "path": 5}]}},
     {"id": "Patient.name:a", "path": "Patient.name", "sliceName": "a"}],
    [{"path": "Patient.name"}, 5],
])
def test_malformed_runtime_profile_is_a_warning_not_a_failure(elements: list) -> None:
    sd = _profile("https://example.org/StructureDefinition/malformed", "Patient", elements)
    issues = validate(PATIENT, sd["url"], definitions=[sd])
    assert not has_errors(issues)
    assert [(i.severity, i.code, i.expression[0]) for i in issues if "malformed" in i.diagnostics or
            "cannot be used" in i.diagnostics] == [("warning", "not-supported", "Patient")]


def test_type_specific_choice_names_in_a_differential() -> None:
    sd = _profile("https://example.org/StructureDefinition/quantity-value", "Observation", [
        {"id": "Observation.valueQuantity", "path": "Observation.valueQuantity", "min": 1},
        {"id": "Observation.valueQuantity.system", "path": "Observation.valueQuantity.system",
         "fixedUri": "http://unitsofmeasure.org"},
    ])
    obs = copy.deepcopy(HEART_RATE)
    del obs["meta"]
    assert _errors(obs, sd["url"], definitions=[sd]) == []
    obs["valueQuantity"]["system"] = "http://example.org/units"
    assert _locations(obs, sd["url"], definitions=[sd]) == ["Observation.value.ofType(Quantity).system"]
    del obs["valueQuantity"]
    obs["valueString"] = "72"
    assert _locations(obs, sd["url"], definitions=[sd]) == ["Observation.value.ofType(string)"]


def _entries_profile(kind: str, slice_type: dict[str, Any]) -> dict[str, Any]:
    sd = _profile("https://example.org/StructureDefinition/patients-bundle", "Bundle", [
        {"id": "Bundle.entry", "path": "Bundle.entry",
         "slicing": {"discriminator": [{"type": kind, "path": "resource"}], "rules": "closed"}},
        {"id": "Bundle.entry:patient", "path": "Bundle.entry", "sliceName": "patient", "min": 1},
        {"id": "Bundle.entry:patient.resource", "path": "Bundle.entry.resource", "type": [slice_type]},
    ])
    return sd


def _bundle(*resources: dict) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"urn:uuid:0a7c4c52-4b9e-4f0e-8a7e-9d3c2b1a000{i}", "resource": r}
        for i, r in enumerate(resources)]}


def test_profile_discriminator() -> None:
    sd = _entries_profile("profile", {"code": "Patient", "profile": [UK + "UKCore-Patient"]})
    plain = {k: v for k, v in PATIENT.items() if k != "meta"}
    assert _errors(_bundle(plain), sd["url"], definitions=[sd]) == []
    two = copy.deepcopy(plain)
    two["identifier"].append(dict(NHS))  # fails UKCore-Patient, so it belongs to no slice
    assert _locations(_bundle(plain, two), sd["url"], definitions=[sd]) == ["Bundle.entry[1]"]


def test_type_discriminator_on_a_path() -> None:
    sd = _entries_profile("type", {"code": "Patient"})
    plain = {k: v for k, v in PATIENT.items() if k != "meta"}
    hr = {k: v for k, v in HEART_RATE.items() if k != "meta"}
    assert _errors(_bundle(plain), sd["url"], definitions=[sd]) == []
    assert _locations(_bundle(plain, hr), sd["url"], definitions=[sd]) == ["Bundle.entry[1]"]
    assert _locations(_bundle(hr), sd["url"], definitions=[sd]) == ["Bundle", "Bundle.entry[0]"]
