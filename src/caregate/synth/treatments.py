"""Builders for treatments in a patient record: prescriptions, vaccinations and allergies.

Shapes follow UK Core MedicationRequest, Immunization and AllergyIntolerance
(https://simplifier.net/hl7fhirukcorer4) on FHIR R4 4.0.1. Medicines are dm+d VMPs with doses in dm+d
units of presentation; a repeat prescription is one authorisation with ``numberOfRepeatsAllowed``,
as GP systems in England record it, rather than one resource per dispensing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from caregate.synth.directory import Staff
from caregate.synth.medications import Medication
from caregate.synth.resources import staff_ref
from caregate.synth.terminology import (
    ALLERGY_CLINICAL,
    ALLERGY_VERIFICATION,
    COURSE_OF_THERAPY,
    SNOMED,
    UCUM,
    Code,
    coded,
    profile,
    quantity,
    reference,
)
from caregate.synth.times import stamp

MEDICATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
PERFORMER_FUNCTION = "http://terminology.hl7.org/CodeSystem/v2-0443"


def medication_request(
    mid: str,
    patient_id: str,
    encounter_id: str,
    drug: Medication,
    authored: datetime,
    prescriber: Staff,
    repeats: int,
    active: bool,
    reason_id: str | None = None,
) -> dict[str, Any]:
    """A GP prescription: ``repeats`` > 0 makes it a repeat authorisation for long-term therapy."""
    unit = {"unit": drug.unit.display, "system": SNOMED, "code": drug.unit.code}
    repeat = {"frequency": round(drug.per_day), "period": 1, "periodUnit": "d"}
    course = ("acute", "Short course (acute) therapy")
    if repeats:
        course = ("continuous", "Continuous long term therapy")
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": mid,
        "meta": profile("MedicationRequest"),
        "status": "active" if active else "completed",
        "intent": "order",
        "category": [coded(MEDICATION_CATEGORY, "community", "Community")],
        "medicationCodeableConcept": drug.code.concept(),
        "subject": reference("Patient", patient_id),
        "encounter": reference("Encounter", encounter_id),
        "authoredOn": stamp(authored),
        "requester": staff_ref(prescriber),
    }
    if reason_id is not None:
        resource["reasonReference"] = [reference("Condition", reason_id)]
    resource["courseOfTherapyType"] = coded(COURSE_OF_THERAPY, *course)
    resource["dosageInstruction"] = [
        {
            "text": drug.instructions,
            "timing": {"repeat": repeat},
            "asNeededBoolean": drug.as_needed,
            "route": drug.route.concept(),
            "doseAndRate": [{"doseQuantity": {"value": drug.dose, **unit}}],
        }
    ]
    supply_end = authored + timedelta(days=drug.supply_days * (repeats + 1))
    resource["dispenseRequest"] = {
        "validityPeriod": {"start": stamp(authored), "end": stamp(supply_end)},
        "numberOfRepeatsAllowed": repeats,
        "quantity": {"value": drug.quantity(), **unit},
        "expectedSupplyDuration": {"value": drug.supply_days, "unit": "days", "system": UCUM, "code": "d"},
    }
    resource["substitution"] = {"allowedBoolean": True}  # UKCore-MedicationRequest requires it (min 1)
    return resource


def allergy(
    aid: str,
    patient_id: str,
    encounter_id: str,
    code: Code,
    category: str,
    reaction: Code,
    severity: str,
    onset: datetime,
    recorded: datetime,
    recorder: Staff,
) -> dict[str, Any]:
    """A confirmed, active allergy with the reaction it caused."""
    return {
        "resourceType": "AllergyIntolerance",
        "id": aid,
        "meta": profile("AllergyIntolerance"),
        "clinicalStatus": coded(ALLERGY_CLINICAL, "active", "Active"),
        "verificationStatus": coded(ALLERGY_VERIFICATION, "confirmed", "Confirmed"),
        "type": "allergy",
        "category": [category],
        "criticality": "high" if severity == "severe" else "low",
        "code": code.concept(),
        "patient": reference("Patient", patient_id),
        "encounter": reference("Encounter", encounter_id),
        "onsetDateTime": stamp(onset),
        "recordedDate": stamp(recorded),
        "recorder": staff_ref(recorder),
        "reaction": [{"manifestation": [reaction.concept()], "severity": severity}],
    }


def immunization(
    iid: str,
    patient_id: str,
    encounter_id: str,
    vaccine: Code,
    when: datetime,
    performer: Staff,
    route: Code,
    site: Code | None,
    lot: str,
    dose_number: int,
) -> dict[str, Any]:
    """A vaccination given and recorded by the administering clinician."""
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": iid,
        "meta": profile("Immunization"),
        "status": "completed",
        "vaccineCode": vaccine.concept(),
        "patient": reference("Patient", patient_id),
        "encounter": reference("Encounter", encounter_id),
        "occurrenceDateTime": stamp(when),
        "recorded": stamp(when),
        "primarySource": True,
        "lotNumber": lot,
        "expirationDate": (when + timedelta(days=300)).date().isoformat(),
    }
    if site is not None:
        resource["site"] = site.concept()
    resource["route"] = route.concept()
    resource["doseQuantity"] = quantity(0.2 if route.code == "46713006" else 0.5, "ml", "mL")
    resource["performer"] = [
        {
            "function": coded(PERFORMER_FUNCTION, "AP", "Administering Provider"),
            "actor": staff_ref(performer),
        }
    ]
    resource["protocolApplied"] = [{"doseNumberPositiveInt": dose_number}]
    return resource
