"""Terminology bindings in the validator: one defect per resource, each with its severity and exact location."""

from __future__ import annotations

from caregate.fhir.terminology.ucum import ucum_problem
from caregate.fhir.validate import validate
from caregate.fhir.validate.bindings import check_binding
from caregate.storage import snomed
from tests.fhir.terminology.rf2 import ASTHMA, HEART, MI

SCT = "http://snomed.info/sct"


def _issues(resource: dict) -> list[tuple[str, str, str]]:
    return [(i.severity, i.code, i.expression[0]) for i in validate(resource) if i.code in ("code-invalid",
                                                                                              "not-supported")]


def _binding(strength: str, url: str, type_code: str, value: object) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    check_binding((strength, url), type_code, value, "X.value", lambda *issue: found.append(issue))
    return found


def test_required_code() -> None:
    assert _issues({"resourceType": "Patient", "gender": "femal"}) == [("error", "code-invalid", "Patient.gender")]
    assert _issues({"resourceType": "Patient", "gender": "female"}) == []


def test_required_codeable_concept() -> None:
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p"}, "clinicalStatus": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "gone"}]}}
    assert _issues(allergy) == [("error", "code-invalid", "AllergyIntolerance.clinicalStatus")]
    allergy["clinicalStatus"]["coding"].append(
        {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "resolved"})
    assert _issues(allergy) == []  # one coding in the ValueSet is enough


def test_extensible_coding_is_a_warning_at_the_coding() -> None:
    enc = {"resourceType": "Encounter", "status": "finished",
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "NOPE"}}
    assert _issues(enc) == [("warning", "code-invalid", "Encounter.class")]


def test_preferred_language_is_a_warning_and_the_grammar_is_checked() -> None:
    assert _issues({"resourceType": "Patient", "language": "en_GB"}) == [("warning", "code-invalid",
                                                                          "Patient.language")]
    assert _issues({"resourceType": "Patient", "language": "en-GB"}) == []
    found = _binding("required", "http://hl7.org/fhir/ValueSet/all-languages", "code", "cy-GB")
    assert found == []  # all-languages is every BCP-47 tag: checked by grammar, not by a list
    found = _binding("required", "http://hl7.org/fhir/ValueSet/all-languages", "code", "not a tag")
    assert [f[0] for f in found] == ["error"]


def test_mime_type_by_grammar() -> None:
    doc = {"resourceType": "DocumentReference", "status": "current",
           "content": [{"attachment": {"contentType": "pdf"}}]}
    assert _issues(doc) == [("error", "code-invalid", "DocumentReference.content[0].attachment.contentType")]
    doc["content"][0]["attachment"]["contentType"] = "application/pdf"
    assert _issues(doc) == []


def test_ucum_units_by_grammar_and_by_list() -> None:
    assert _binding("required", "http://hl7.org/fhir/ValueSet/ucum-units", "code", "mg/dL") == []
    assert _binding("required", "http://hl7.org/fhir/ValueSet/ucum-units", "code", "10*9/L") == []
    (bad,) = _binding("required", "http://hl7.org/fhir/ValueSet/ucum-units", "code", "mg//dL")
    assert bad[:2] == ("error", "code-invalid") and bad[3] == "X.value"
    timing = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
              "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "x"},
              "dosageInstruction": [{"timing": {"repeat": {"period": 1, "periodUnit": "hour"}}}]}
    assert _issues(timing) == [  # a valid UCUM unit, but units-of-time lists s, min, h, d, wk, mo and a
        ("error", "code-invalid", "MedicationRequest.dosageInstruction[0].timing.repeat.periodUnit")]
    assert ucum_problem("kg.m-2") is None and ucum_problem("(mg") == "a ')' is missing at position 4"


def test_value_set_that_cannot_be_expanded_or_resolved_is_a_warning() -> None:
    enc = {"resourceType": "Encounter", "status": "finished",
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
           "reasonCode": [{"coding": [{"system": SCT, "code": "38341003"}]}]}
    issues = [i for i in validate(enc) if i.code == "not-supported"]
    assert [(i.severity, i.expression[0]) for i in issues] == [("warning", "Encounter.reasonCode[0]")]
    assert "SNOMED CT" in issues[0].diagnostics and "not loaded" in issues[0].diagnostics
    (unknown,) = _binding("required", "http://example.org/fhir/ValueSet/r5-only", "code", "x")
    assert unknown[:2] == ("warning", "not-supported") and "not known" in unknown[2]


def test_snomed_bindings_once_a_release_is_loaded(loaded: str) -> None:
    url = f"{SCT}?fhir_vs=isa/{HEART}"
    assert _binding("required", url, "Coding", {"system": SCT, "code": MI}) == []
    (issue,) = _binding("required", url, "Coding", {"system": SCT, "code": ASTHMA})
    assert issue == ("error", "code-invalid", f"The code '{ASTHMA}' from {SCT} is not in the ValueSet {url}, which "
                     "has a required binding here.", "X.value")
    snomed.uninstall()
    (issue,) = _binding("required", url, "Coding", {"system": SCT, "code": MI})
    assert issue[:2] == ("warning", "not-supported")  # the release is gone again: no verdict, a warning
