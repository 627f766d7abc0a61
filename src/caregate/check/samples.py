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

# The resource types UK Core profiles (https://simplifier.net/hl7fhirukcorer4), in the IG's own order; Bundle,
# OperationOutcome and Subscription aside: they carry or steer records rather than hold them (realtime covers
# Subscription).
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


def _subject(refs: dict[str, str]) -> dict[str, str]:
    return {"reference": f"Patient/{refs['Patient']}"}


def _more(run: str, refs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The other UK Core types, each with the elements its base definition requires and a few searchable ones."""
    ident = _ident
    subject = _subject(refs) if "Patient" in refs else None
    return {
        "Appointment": {"identifier": ident(run, "appt"), "status": "booked", "start": "2024-06-01T10:00:00Z",
                        "end": "2024-06-01T10:15:00Z", "serviceType": [_snomed("394814009", "General practice")],
                        "participant": [{"actor": subject, "status": "accepted"}]},
        "AuditEvent": {"type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
                       "recorded": "2024-05-01T09:00:00Z", "agent": [{"requestor": True, "name": "checker"}],
                       "source": {"observer": {"display": "caregate check"}}},
        "BodyStructure": {"identifier": ident(run, "body"), "location": _snomed("66019005", "Limb structure"),
                          "patient": subject},
        "CarePlan": {"identifier": ident(run, "cp"), "status": "active", "intent": "plan", "subject": subject,
                     "period": {"start": "2024-05-01"}},
        "CareTeam": {"identifier": ident(run, "ct"), "status": "active", "subject": subject, "name": f"Team {run}"},
        "Communication": {"identifier": ident(run, "comm"), "status": "completed", "subject": subject,
                          "sent": "2024-05-01T09:00:00Z"},
        "Composition": {"identifier": {"system": "https://example.org/caregate-check", "value": f"comp-{run}"},
                        "status": "final", "type": _snomed("371530004", "Clinical consultation report"),
                        "subject": subject, "date": "2024-05-01", "author": [subject], "title": "Consultation"},
        "Consent": {"identifier": ident(run, "cons"), "status": "active",
                    "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                          "code": "patient-privacy"}]},
                    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                    "patient": subject, "dateTime": "2024-05-01T09:00:00Z",
                    "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                               "code": "OPTIN"}]}},
        "Device": {"identifier": ident(run, "dev"), "status": "active", "patient": subject,
                   "type": _snomed("706767009", "Patient data recorder")},
        "DocumentReference": {"identifier": ident(run, "doc"), "status": "current", "subject": subject,
                              "type": _snomed("371530004", "Clinical consultation report"),
                              "date": "2024-05-01T09:00:00Z",
                              "content": [{"attachment": {"contentType": "text/plain",
                                                          "url": "https://example.org/check.txt"}}]},
        "EpisodeOfCare": {"identifier": ident(run, "eoc"), "status": "active", "patient": subject,
                          "period": {"start": "2024-05-01"}},
        "FamilyMemberHistory": {"identifier": ident(run, "fmh"), "status": "completed", "patient": subject,
                                "date": "2024-05-01",
                                "relationship": {"coding": [{
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                    "code": "MTH"}]},
                                "condition": [{"code": _snomed("44054006", "Diabetes mellitus type 2")}]},
        "Flag": {"identifier": ident(run, "flag"), "status": "active", "subject": subject,
                 "code": _snomed("129839007", "At risk for falls"), "period": {"start": "2024-05-01"}},
        "HealthcareService": {"identifier": ident(run, "hcs"), "active": True, "name": f"Clinic {run}",
                              "providedBy": {"reference": f"Organization/{refs.get('Organization', '')}"}},
        "ImagingStudy": {"identifier": ident(run, "img"), "status": "available", "subject": subject,
                         "started": "2024-05-01T09:00:00Z"},
        "List": {"identifier": ident(run, "list"), "status": "current", "mode": "working", "subject": subject,
                 "date": "2024-05-01T09:00:00Z", "code": _snomed("182836005", "Review of medication")},
        "MedicationAdministration": {"identifier": ident(run, "madm"), "status": "completed", "subject": subject,
                                     "medicationCodeableConcept": _snomed("322236009", "Paracetamol 500mg tablets"),
                                     "effectiveDateTime": "2024-05-01T09:00:00Z"},
        "MedicationDispense": {"identifier": ident(run, "mdis"), "status": "completed", "subject": subject,
                               "medicationCodeableConcept": _snomed("322236009", "Paracetamol 500mg tablets"),
                               "whenHandedOver": "2024-05-01T09:00:00Z"},
        "MedicationStatement": {"identifier": ident(run, "mst"), "status": "active", "subject": subject,
                                "medicationCodeableConcept": _snomed("322236009", "Paracetamol 500mg tablets"),
                                "effectiveDateTime": "2024-05-01"},
        "MessageHeader": {"eventCoding": {"system": "https://example.org/caregate-check", "code": "check"},
                          "source": {"endpoint": "https://example.org/checker"}},
        "OrganizationAffiliation": {"identifier": ident(run, "oaff"), "active": True,
                                    "organization": {"reference": f"Organization/{refs.get('Organization', '')}"}},
        "Provenance": {"target": [subject], "recorded": "2024-05-01T09:00:00Z",
                       "agent": [{"who": {"display": "caregate check"}}]},
        "Questionnaire": {"identifier": ident(run, "q"), "status": "active", "name": f"Check{run}",
                          "title": f"Checker questionnaire {run}", "date": "2024-05-01",
                          "item": [{"linkId": "1", "text": "How are you?", "type": "string"}]},
        "QuestionnaireResponse": {"identifier": {"system": "https://example.org/caregate-check",
                                                 "value": f"qr-{run}"}, "status": "completed",
                                  "subject": subject, "authored": "2024-05-01T09:00:00Z"},
        "RelatedPerson": {"identifier": ident(run, "rp"), "active": True, "patient": subject,
                          "name": [{"family": f"Relative{run}", "given": ["Sam"]}], "gender": "male"},
        "RequestGroup": {"identifier": ident(run, "rg"), "status": "active", "intent": "plan", "subject": subject,
                         "authoredOn": "2024-05-01T09:00:00Z"},
        "Schedule": {"identifier": ident(run, "sch"), "active": True,
                     "actor": [{"reference": f"Practitioner/{refs.get('Practitioner', '')}"}],
                     "planningHorizon": {"start": "2024-06-01T09:00:00Z", "end": "2024-06-01T17:00:00Z"}},
        "ServiceRequest": {"identifier": ident(run, "sr"), "status": "active", "intent": "order",
                           "subject": subject, "code": _snomed("26604007", "Full blood count"),
                           "authoredOn": "2024-05-01T09:00:00Z"},
        "Slot": {"identifier": ident(run, "slot"), "status": "free", "start": "2024-06-01T10:00:00Z",
                 "end": "2024-06-01T10:15:00Z", "schedule": {"reference": f"Schedule/{refs.get('Schedule', '')}"}},
        "Specimen": {"identifier": ident(run, "spec"), "status": "available", "subject": subject,
                     "type": _snomed("119297000", "Blood specimen"), "receivedTime": "2024-05-01T09:30:00Z"},
        "Task": {"identifier": ident(run, "task"), "status": "requested", "intent": "order", "for": subject,
                 "authoredOn": "2024-05-01T09:00:00Z", "code": _snomed("225368008", "Contact tracing")},
    }


def _template(type_: str) -> Template:
    def make(run: str, refs: dict[str, str]) -> dict[str, Any]:
        return {"resourceType": type_, **_more(run, refs)[type_]}

    return make


_MORE_DEPENDS = {"HealthcareService": ("Organization",), "OrganizationAffiliation": ("Organization",),
                 "Schedule": ("Practitioner",), "Slot": ("Schedule",), "AuditEvent": (), "MessageHeader": (),
                 "Questionnaire": ()}


TEMPLATES: dict[str, Template] = {
    "Patient": patient, "Practitioner": practitioner, "Organization": organization, "Location": location,
    "PractitionerRole": practitioner_role, "Encounter": encounter, "Condition": condition,
    "Observation": observation, "AllergyIntolerance": allergy, "Medication": medication,
    "MedicationRequest": medication_request, "Immunization": immunization, "Procedure": procedure,
    "DiagnosticReport": diagnostic_report,
}
for _type in sorted(set(UK_CORE_TYPES) - set(TEMPLATES)):
    TEMPLATES[_type] = _template(_type)
_DEPENDS = {"PractitionerRole": ("Practitioner", "Organization"), **_MORE_DEPENDS}


def dependencies(type_: str) -> tuple[str, ...]:
    if type_ in _DEPENDS:
        return _DEPENDS[type_]
    return () if type_ in ("Patient", "Practitioner", "Organization", "Location", "Medication") else ("Patient",)
