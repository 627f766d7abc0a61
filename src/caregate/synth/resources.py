"""Builders for the clinical events in a patient record: encounters, conditions and procedures.

Each function returns one plain JSON-ready dict shaped after the matching UK Core profile
(https://simplifier.net/hl7fhirukcorer4) on FHIR R4 4.0.1, with relative references ("Patient/<id>")
so a bundle loads into any server. The builders hold no state and make no random choices: the
lifetime simulation decides what happened, these functions only say it in FHIR.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caregate.synth.directory import Staff
from caregate.synth.terminology import (
    ACT_CODE,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    DISCHARGE_DISPOSITION,
    PARTICIPATION_TYPE,
    Code,
    coded,
    profile,
    reference,
)
from caregate.synth.times import stamp

ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
_CLASSES = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter", "VR": "virtual"}
_CATEGORIES = {"problem-list-item": "Problem List Item", "encounter-diagnosis": "Encounter Diagnosis"}


def staff_ref(member: Staff) -> dict[str, str]:
    """A reference to a clinician's Practitioner resource, with their name as display."""
    return reference("Practitioner", member.practitioner_id, member.name)


def encounter(
    eid: str,
    patient_id: str,
    klass: str,
    kind: Code,
    start: datetime,
    end: datetime,
    clinician: Staff,
    location_id: str,
    org_id: str,
    reason: Code | None = None,
    admitted_from: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A finished encounter; ``admitted_from`` (admit-source code, display) marks an inpatient stay."""
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "meta": profile("Encounter"),
        "status": "finished",
        "class": {"system": ACT_CODE, "code": klass, "display": _CLASSES[klass]},
        "type": [kind.concept()],
        "subject": reference("Patient", patient_id),
        "participant": [
            {
                "type": [coded(PARTICIPATION_TYPE, "PPRF", "primary performer")],
                "individual": staff_ref(clinician),
            }
        ],
        "period": {"start": stamp(start), "end": stamp(end)},
    }
    if reason is not None:
        resource["reasonCode"] = [reason.concept()]
    if admitted_from is not None:
        resource["hospitalization"] = {
            "admitSource": coded(ADMIT_SOURCE, *admitted_from),
            "dischargeDisposition": coded(DISCHARGE_DISPOSITION, "home", "Home"),
        }
    resource["location"] = [{"location": reference("Location", location_id), "status": "completed"}]
    resource["serviceProvider"] = reference("Organization", org_id)
    return resource


def condition(
    cid: str,
    patient_id: str,
    encounter_id: str,
    code: Code,
    category: str,
    onset: datetime,
    recorded: datetime,
    recorder: Staff,
    abatement: datetime | None = None,
) -> dict[str, Any]:
    """A confirmed condition: active, or resolved once ``abatement`` is set."""
    status = ("resolved", "Resolved") if abatement is not None else ("active", "Active")
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "meta": profile("Condition"),
        "clinicalStatus": coded(CONDITION_CLINICAL, *status),
        "verificationStatus": coded(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
        "category": [coded(CONDITION_CATEGORY, category, _CATEGORIES[category])],
        "code": code.concept(),
        "subject": reference("Patient", patient_id),
        "encounter": reference("Encounter", encounter_id),
        "onsetDateTime": stamp(onset),
    }
    if abatement is not None:
        resource["abatementDateTime"] = stamp(abatement)
    resource["recordedDate"] = stamp(recorded)
    resource["recorder"] = staff_ref(recorder)
    return resource


def procedure(
    pid: str,
    patient_id: str,
    encounter_id: str,
    code: Code,
    start: datetime,
    end: datetime,
    performer: Staff,
    location_id: str,
    reason_id: str | None = None,
) -> dict[str, Any]:
    """A completed procedure, optionally justified by a Condition."""
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": pid,
        "meta": profile("Procedure"),
        "status": "completed",
        "code": code.concept(),
        "subject": reference("Patient", patient_id),
        "encounter": reference("Encounter", encounter_id),
        "performedPeriod": {"start": stamp(start), "end": stamp(end)},
        "performer": [{"actor": staff_ref(performer)}],
        "location": reference("Location", location_id),
    }
    if reason_id is not None:
        resource["reasonReference"] = [reference("Condition", reason_id)]
    return resource
