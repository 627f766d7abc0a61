"""Sample resources the checker writes to test with, shaped like UK Core (NHS number, SNOMED CT, ODS codes).

Each is made for one run (`run_id`), references the samples it depends on, and uses only test data: the NHS
number is from the 999 range reserved for testing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from caregate.fhir import nhs_number

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

# The resource types UK Core profiles (https://simplifier.net/hl7fhirukcorer4), in the IG's own order.
UK_CORE_TYPES = (
    "AllergyIntolerance", "Appointment", "AuditEvent", "BodyStructure", "CarePlan", "CareTeam", "Communication",
    "Composition", "Condition", "Consent", "Device", "DiagnosticReport", "DocumentReference", "Encounter",
    "EpisodeOfCare", "FamilyMemberHistory", "Flag", "HealthcareService", "ImagingStudy", "Immunization", "List",
    "Location", "Medication", "MedicationAdministration", "MedicationDispense", "MedicationRequest",
    "MedicationStatement", "MessageHeader", "Observation", "Organization", "OrganizationAffiliation", "Patient",
    "Practitioner", "PractitionerRole", "Procedure", "Provenance", "Questionnaire", "QuestionnaireResponse",
    "RelatedPerson", "RequestGroup", "Schedule", "ServiceRequest", "Slot", "Specimen", "Task",
)

Template = Callable[[str, dict[str, str]], dict[str, Any]]


def _snomed(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display}


def _ident(run: str, kind: str) -> list[dict[str, Any]]:
    return [{"system": "https://example.org/caregate-check", "value": f"{kind}-{run}"}]


def patient(run: str, _refs: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Patient", "active": True,
        "identifier": [{"system": nhs_number.SYSTEM, "value": nhs_number.test_number(random.Random(run))}],
        "name": [{"use": "official", "family": f"Checker{run}", "given": ["Ada"]}],
        "telecom": [{"system": "phone", "value": "0113 496 0000", "use": "home"}],
        "gender": "female", "birthDate": "1984-06-12",
        "address": [{"use": "home", "line": ["1 Test Street"], "city": "Leeds", "postalCode": "LS1 4AP",
                     "country": "GB"}],
    }


def practitioner(run: str, _refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "active": True,
            "identifier": [{"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": "C1234567"}],
            "name": [{"family": f"Medic{run}", "given": ["Grace"], "prefix": ["Dr"]}], "gender": "female"}


def organization(run: str, _refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Organization", "active": True,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "X26"}],
            "name": f"Checker Health Centre {run}",
            "address": [{"line": ["2 Test Road"], "city": "Leeds", "postalCode": "LS2 7UE", "country": "GB"}]}


def location(run: str, _refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Location", "identifier": _ident(run, "loc"), "status": "active",
            "name": f"Checker Ward {run}",
            "address": {"city": "Leeds", "postalCode": "LS2 7UE"}}


def practitioner_role(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "PractitionerRole", "identifier": _ident(run, "role"), "active": True,
            "practitioner": {"reference": f"Practitioner/{refs['Practitioner']}"},
            "organization": {"reference": f"Organization/{refs['Organization']}"},
            "code": [_snomed("62247001", "General practitioner")]}


def encounter(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Encounter", "identifier": _ident(run, "enc"), "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [_snomed("185347001", "Encounter for problem")],
            "subject": {"reference": f"Patient/{refs['Patient']}"},
            "period": {"start": "2024-05-01T09:00:00Z", "end": "2024-05-01T09:20:00Z"}}


def condition(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Condition", "identifier": _ident(run, "cond"),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                      "code": "problem-list-item"}]}],
            "code": _snomed("44054006", "Diabetes mellitus type 2"),
            "subject": {"reference": f"Patient/{refs['Patient']}"},
            "onsetDateTime": "2019-03-01", "recordedDate": "2019-03-04"}


def observation(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Observation", "identifier": _ident(run, "obs"), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "code": {"coding": [{"system": SNOMED, "code": "27113001", "display": "Body weight"},
                                {"system": LOINC, "code": "29463-7", "display": "Body weight"}]},
            "subject": {"reference": f"Patient/{refs['Patient']}"},
            "effectiveDateTime": "2024-05-01T09:10:00Z",
            "valueQuantity": {"value": 72.5, "unit": "kg", "system": UCUM, "code": "kg"}}


def allergy(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance", "identifier": _ident(run, "alg"),
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                "code": "confirmed"}]},
            "category": ["medication"], "criticality": "high",
            "code": _snomed("91936005", "Allergy to penicillin"),
            "patient": {"reference": f"Patient/{refs['Patient']}"}, "recordedDate": "2020-02-02"}


def medication(run: str, _refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Medication", "identifier": _ident(run, "med"), "status": "active",
            "code": _snomed("322236009", "Paracetamol 500mg tablets")}


def medication_request(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "identifier": _ident(run, "mrq"), "status": "active",
            "intent": "order",
            "medicationCodeableConcept": _snomed("322236009", "Paracetamol 500mg tablets"),
            "subject": {"reference": f"Patient/{refs['Patient']}"}, "authoredOn": "2024-05-01"}


def immunization(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Immunization", "identifier": _ident(run, "imm"), "status": "completed",
            "vaccineCode": _snomed("39114911000001105", "COVID-19 Vaccine Vaxzevria"),
            "patient": {"reference": f"Patient/{refs['Patient']}"}, "occurrenceDateTime": "2021-03-15"}


def procedure(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Procedure", "identifier": _ident(run, "proc"), "status": "completed",
            "code": _snomed("80146002", "Appendectomy"),
            "subject": {"reference": f"Patient/{refs['Patient']}"}, "performedDateTime": "2015-08-20"}


def diagnostic_report(run: str, refs: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "DiagnosticReport", "identifier": _ident(run, "dr"), "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "58410-2", "display": "CBC panel"}]},
            "subject": {"reference": f"Patient/{refs['Patient']}"},
            "effectiveDateTime": "2024-04-30", "issued": "2024-05-01T12:00:00Z"}


TEMPLATES: dict[str, Template] = {
    "Patient": patient, "Practitioner": practitioner, "Organization": organization, "Location": location,
    "PractitionerRole": practitioner_role, "Encounter": encounter, "Condition": condition,
    "Observation": observation, "AllergyIntolerance": allergy, "Medication": medication,
    "MedicationRequest": medication_request, "Immunization": immunization, "Procedure": procedure,
    "DiagnosticReport": diagnostic_report,
}
_DEPENDS = {"PractitionerRole": ("Practitioner", "Organization")}


def dependencies(type_: str) -> tuple[str, ...]:
    if type_ in _DEPENDS:
        return _DEPENDS[type_]
    return () if type_ in ("Patient", "Practitioner", "Organization", "Location", "Medication") else ("Patient",)
