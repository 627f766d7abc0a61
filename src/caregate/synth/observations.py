"""Builders for Observation and DiagnosticReport resources.

Vital signs conform to the FHIR R4 vital signs profiles (http://hl7.org/fhir/R4/observation-vitalsigns.html):
category ``vital-signs``, the profile's LOINC code, a UCUM ``valueQuantity``, and for blood pressure a
panel (85354-9) whose systolic and diastolic values are components, never separate resources.
Laboratory results carry the ``laboratory`` category, a reference range and an interpretation flag,
and are grouped by a DiagnosticReport per request (UK Core DiagnosticReport, category LAB).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caregate.synth.measures import (
    BLOOD_PRESSURE,
    DIASTOLIC,
    MM_HG,
    SMOKING_STATUS,
    SPO2_CORE,
    SYSTOLIC,
    VITAL_PROFILE,
    Measure,
    Panel,
)
from caregate.synth.terminology import (
    DIAGNOSTIC_SERVICE,
    INTERPRETATION,
    OBSERVATION_CATEGORY,
    UK_CORE,
    Code,
    coded,
    quantity,
    reference,
)
from caregate.synth.times import stamp

_CATEGORY_DISPLAY = {
    "vital-signs": "Vital Signs",
    "laboratory": "Laboratory",
    "survey": "Survey",
    "social-history": "Social History",
}
_FLAGS = {"H": "High", "L": "Low", "N": "Normal"}


def _base(
    oid: str, category: str, code: dict[str, Any], patient_id: str, encounter_id: str, when: datetime
) -> dict[str, Any]:
    """The elements every Observation shares, in the order the R4 specification lists them."""
    return {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"profile": [UK_CORE + "Observation"]},
        "status": "final",
        "category": [coded(OBSERVATION_CATEGORY, category, _CATEGORY_DISPLAY[category])],
        "code": code,
        "subject": reference("Patient", patient_id),
        "encounter": reference("Encounter", encounter_id),
        "effectiveDateTime": stamp(when),
    }


def measurement(
    oid: str,
    measure: Measure,
    value: float | int,
    patient_id: str,
    encounter_id: str,
    when: datetime,
    performer: dict[str, str],
    issued: datetime | None = None,
    comparator: str | None = None,
) -> dict[str, Any]:
    """A quantitative Observation of ``measure``; labs also get reference range and interpretation."""
    code = measure.code.concept()
    if measure.key == "spo2":
        code["coding"].append(SPO2_CORE.coding())  # the oxygensat profile requires 2708-6 as well
    resource = _base(oid, measure.category, code, patient_id, encounter_id, when)
    if measure.profile:
        resource["meta"]["profile"].insert(0, VITAL_PROFILE + measure.profile)
    if issued is not None:
        resource["issued"] = stamp(issued)
    resource["performer"] = [performer]
    resource["valueQuantity"] = quantity(value, measure.unit, measure.ucum, comparator)
    if measure.category == "laboratory":
        flag = "N"
        if comparator is None and measure.high is not None and value > measure.high:
            flag = "H"
        elif comparator is None and measure.low is not None and value < measure.low:
            flag = "L"
        resource["interpretation"] = [coded(INTERPRETATION, flag, _FLAGS[flag])]
        limits: dict[str, Any] = {}
        if measure.low is not None:
            limits["low"] = quantity(measure.low, measure.unit, measure.ucum)
        if measure.high is not None:
            limits["high"] = quantity(measure.high, measure.unit, measure.ucum)
        resource["referenceRange"] = [limits]
    return resource


def blood_pressure(
    oid: str,
    systolic: int,
    diastolic: int,
    patient_id: str,
    encounter_id: str,
    when: datetime,
    performer: dict[str, str],
) -> dict[str, Any]:
    """A blood pressure panel with systolic and diastolic components (FHIR ``bp`` profile)."""
    code = BLOOD_PRESSURE.concept("Blood pressure")
    resource = _base(oid, "vital-signs", code, patient_id, encounter_id, when)
    resource["meta"]["profile"].insert(0, VITAL_PROFILE + "bp")
    resource["performer"] = [performer]
    resource["component"] = [
        {"code": SYSTOLIC.concept(), "valueQuantity": quantity(systolic, *MM_HG)},
        {"code": DIASTOLIC.concept(), "valueQuantity": quantity(diastolic, *MM_HG)},
    ]
    return resource


def coded_observation(
    oid: str,
    category: str,
    code: Code,
    value: Code,
    patient_id: str,
    encounter_id: str,
    when: datetime,
    performer: dict[str, str],
) -> dict[str, Any]:
    """An Observation whose value is a concept, such as smoking status."""
    resource = _base(oid, category, code.concept(), patient_id, encounter_id, when)
    resource["performer"] = [performer]
    resource["valueCodeableConcept"] = value.concept()
    return resource


def smoking_status(
    oid: str, value: Code, patient_id: str, encounter_id: str, when: datetime, performer: dict[str, str]
) -> dict[str, Any]:
    """Tobacco smoking status (LOINC 72166-2) with a SNOMED CT finding as its value."""
    category = "social-history"
    return coded_observation(oid, category, SMOKING_STATUS, value, patient_id, encounter_id, when, performer)


def diagnostic_report(
    rid: str,
    panel: Panel,
    result_ids: list[str],
    patient_id: str,
    encounter_id: str,
    when: datetime,
    issued: datetime,
    lab_org_id: str,
) -> dict[str, Any]:
    """A final laboratory report grouping the Observations of one request."""
    return {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "meta": {"profile": [UK_CORE + "DiagnosticReport"]},
        "status": "final",
        "category": [coded(DIAGNOSTIC_SERVICE, "LAB", "Laboratory")],
        "code": panel.code.concept(),
        "subject": reference("Patient", patient_id),
        "encounter": reference("Encounter", encounter_id),
        "effectiveDateTime": stamp(when),
        "issued": stamp(issued),
        "performer": [reference("Organization", lab_org_id)],
        "result": [reference("Observation", result_id) for result_id in result_ids],
    }
