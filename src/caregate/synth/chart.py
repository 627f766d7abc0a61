"""One patient's record while it is being written.

A :class:`Chart` binds together what every clinical event needs (the patient, their practice and
local hospital, the random source, the id counter) and offers the recurring steps of an event: open
an encounter, take vital signs, send bloods, prescribe, record a diagnosis. Event handlers in
:mod:`caregate.synth.lifetime` and :mod:`caregate.synth.hospital` compose these steps, so the FHIR
shape of, say, a blood pressure reading is written in one place however many events take one.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from caregate.synth import observations as obs
from caregate.synth import physiology as phys
from caregate.synth import resources, results, treatments
from caregate.synth.clinical import EX_SMOKER, NEVER_SMOKED, SMOKER
from caregate.synth.directory import Hospital, Practice, Staff
from caregate.synth.ids import Counter
from caregate.synth.measures import PANELS, VITALS
from caregate.synth.medications import Medication
from caregate.synth.patient import Person
from caregate.synth.physiology import Body
from caregate.synth.terminology import Code, reference
from caregate.synth.times import age_on

_SMOKING = {"never": NEVER_SMOKED, "ex": EX_SMOKER, "current": SMOKER}


def _vital_value(
    key: str, rng: random.Random, body: Body, day: date, age: int, active: frozenset[str], unwell: bool
) -> float:
    """A value for the vital sign ``key``; weight and BMI wobble a little between readings."""
    match key:
        case "heart_rate":
            return phys.heart_rate(rng, age, unwell, "af" in active)
        case "resp_rate":
            return phys.respiratory_rate(rng, age, unwell)
        case "temperature":
            return phys.temperature(rng, unwell)
        case "spo2":
            return phys.oxygen_saturation(rng, "copd" in active, unwell)
        case "height":
            return phys.height_cm(body, day)
        case "weight":
            return phys.weight_kg(body, day) * rng.uniform(0.98, 1.02)
        case "bmi":
            return phys.bmi(body, day) * rng.uniform(0.98, 1.02)
        case "head":
            return phys.head_cm(body, day)
    raise KeyError(key)


class Chart:
    """The growing list of resources for one patient, with helpers that append to it."""

    __slots__ = (
        "body", "chronic", "condition_ids", "end", "hospital", "ids", "patient_id", "person", "practice",
        "prescriptions", "repeats", "resources", "rng",
    )

    def __init__(
        self,
        rng: random.Random,
        ids: Counter,
        person: Person,
        body: Body,
        practice: Practice,
        hospital: Hospital,
        end: date,
    ) -> None:
        self.rng = rng
        self.ids = ids
        self.person = person
        self.body = body
        self.practice = practice
        self.hospital = hospital
        self.end = end  # last day of the record: the reference date, or the day before death
        self.patient_id = ids.next("Patient")
        self.resources: list[dict[str, Any]] = []
        self.chronic: dict[str, date] = {}  # long-term condition key -> diagnosis date
        self.condition_ids: dict[str, str] = {}  # long-term condition key -> Condition id
        self.prescriptions: dict[str, dict[str, Any]] = {}  # dm+d code -> latest repeat MedicationRequest
        self.repeats: dict[str, tuple[Medication, str | None]] = {}  # dm+d code -> (medicine, reason)

    def add(self, resource: dict[str, Any]) -> str:
        """Append ``resource`` to the record and return its id."""
        self.resources.append(resource)
        return resource["id"]

    def since_birth(self, moment: datetime) -> datetime:
        """``moment``, or the start of the day of birth if it is earlier (onsets of newborns' problems)."""
        born = datetime(self.person.birth.year, self.person.birth.month, self.person.birth.day)
        return max(moment, born)

    def age(self, day: date) -> int:
        """The patient's age in completed years on ``day``."""
        return age_on(self.person.birth, day)

    def active(self, day: date) -> frozenset[str]:
        """Long-term conditions diagnosed on or before ``day``."""
        return frozenset(key for key, since in self.chronic.items() if since <= day)

    def context(self, day: date, infection: bool = False) -> results.Context:
        """Inputs for results: conditions diagnosed by ``day``, and those treated for a month or more."""
        treated = frozenset(key for key, since in self.chronic.items() if since <= day - timedelta(days=30))
        return results.Context(day, self.active(day), treated, infection)

    def gp(self) -> Staff:
        """A GP from the patient's practice."""
        return self.rng.choice(self.practice.gps)

    def nurse(self) -> Staff:
        """A practice nurse from the patient's practice."""
        return self.rng.choice(self.practice.nurses)

    def visit(
        self,
        klass: str,
        kind: Code,
        start: datetime,
        minutes: int,
        clinician: Staff,
        reason: Code | None = None,
        in_hospital: str | None = None,
        admitted_from: tuple[str, str] | None = None,
    ) -> str:
        """Open (and close) an encounter at the practice, or at ``in_hospital`` (a hospital Location id)."""
        location, org = (in_hospital, self.hospital.org_id) if in_hospital else (
            self.practice.location_id,
            self.practice.org_id,
        )
        eid = self.ids.next("Encounter")
        end = start + timedelta(minutes=minutes)
        self.add(
            resources.encounter(
                eid, self.patient_id, klass, kind, start, end, clinician, location, org, reason, admitted_from
            )
        )
        return eid

    def vitals(
        self, eid: str, when: datetime, clinician: Staff, keys: tuple[str, ...], unwell: bool = False
    ) -> None:
        """Record the vital signs ``keys`` ("bp" or keys of ``VITALS``) at ``when``."""
        day, age, rng, body = when.date(), self.age(when.date()), self.rng, self.body
        active = self.active(day)
        who = resources.staff_ref(clinician)
        taken: dict[str, float] = {}
        for key in keys:
            oid = self.ids.next("Observation")
            if key == "bp":
                treated = "hypertension" in self.context(day).treated
                sbp, dbp = phys.blood_pressure(rng, body, day, "hypertension" in active, treated)
                self.add(obs.blood_pressure(oid, sbp, dbp, self.patient_id, eid, when, who))
                continue
            measure = VITALS[key]
            if key == "bmi" and "weight" in taken:  # BMI is calculated from this visit's readings
                height = taken.get("height", phys.height_cm(body, day))
                value = taken["weight"] / (height / 100) ** 2
            else:
                value = _vital_value(key, rng, body, day, age, active, unwell)
            taken[key] = phys.round_to(value, measure.decimals)
            self.add(obs.measurement(oid, measure, taken[key], self.patient_id, eid, when, who))

    def bloods(self, eid: str, when: datetime, panels: tuple[str, ...], infection: bool = False) -> None:
        """Send ``panels`` to the hospital laboratory; results are reported the next day or so."""
        ctx = self.context(when.date(), infection)
        lab = reference("Organization", self.hospital.org_id)
        for panel in panels:
            issued = when + timedelta(hours=self.rng.randint(4, 30))
            ids = []
            for result in results.panel_results(self.rng, self.body, ctx, panel):
                oid = self.ids.next("Observation")
                ids.append(oid)
                value, comparator = result.value, result.comparator
                self.add(
                    obs.measurement(
                        oid, result.measure, value, self.patient_id, eid, when, lab, issued, comparator
                    )
                )
            rid = self.ids.next("DiagnosticReport")
            report = obs.diagnostic_report(
                rid, PANELS[panel], ids, self.patient_id, eid, when, issued, self.hospital.org_id
            )
            self.add(report)

    def smoking(self, eid: str, when: datetime, clinician: Staff) -> None:
        """Record tobacco smoking status as of ``when``."""
        status = _SMOKING[self.body.smoking_status(when.date())]
        who = resources.staff_ref(clinician)
        self.add(obs.smoking_status(self.ids.next("Observation"), status, self.patient_id, eid, when, who))

    def diagnose(
        self,
        eid: str,
        code: Code,
        when: datetime,
        clinician: Staff,
        onset: datetime | None = None,
        resolved: datetime | None = None,
        problem_list: bool = False,
    ) -> str:
        """Record a confirmed condition; it stays active unless ``resolved`` falls within the record."""
        if resolved is not None and resolved.date() > self.end:
            resolved = None
        category = "problem-list-item" if problem_list else "encounter-diagnosis"
        cid = self.ids.next("Condition")
        started = self.since_birth(onset or when)
        self.add(
            resources.condition(cid, self.patient_id, eid, code, category, started, when, clinician, resolved)
        )
        return cid

    def procedure(
        self,
        eid: str,
        code: Code,
        start: datetime,
        minutes: int,
        clinician: Staff,
        location: str,
        reason: str | None,
    ) -> None:
        """Record a completed procedure at ``location`` (a Location id)."""
        end = start + timedelta(minutes=minutes)
        pid = self.ids.next("Procedure")
        patient = self.patient_id
        self.add(resources.procedure(pid, patient, eid, code, start, end, clinician, location, reason))

    def prescribe(
        self,
        eid: str,
        drug: Medication,
        when: datetime,
        prescriber: Staff,
        reason: str | None,
        repeats: int = 0,
    ) -> None:
        """Issue ``drug``; a new repeat authorisation supersedes the previous one for the same medicine."""
        active = repeats > 0 or when.date() + timedelta(days=drug.supply_days) > self.end
        previous = self.prescriptions.get(drug.code.code)
        if previous is not None and repeats > 0:
            previous["status"] = "completed"
        mid = self.ids.next("MedicationRequest")
        request = treatments.medication_request(
            mid, self.patient_id, eid, drug, when, prescriber, repeats, active, reason
        )
        if repeats > 0:
            self.prescriptions[drug.code.code] = request
            self.repeats.setdefault(drug.code.code, (drug, reason))
        self.add(request)
