"""Hospital care: A&E attendances, admissions, maternity and breast screening.

Secondary care events happen at the patient's local acute trust (the Hospital in the directory) and
are recorded with the trust as ``serviceProvider``, the emergency department or inpatient ward as the
Encounter location and hospital clinicians as performers. An inpatient stay is an Encounter of class
IMP with ``hospitalization.admitSource`` (emergency department, outpatients) and the usual content of
a discharge summary: the diagnosis, admission bloods, observations on each day of the stay and the
procedures carried out.
"""

from __future__ import annotations

from datetime import date, timedelta

from caregate.synth import clinical
from caregate.synth import conditions as cond
from caregate.synth import medications as med
from caregate.synth.chart import Chart
from caregate.synth.directory import CARDIOLOGIST, ED, NURSE, OBSTETRICIAN, PHYSICIAN, SURGEON
from caregate.synth.terminology import Code
from caregate.synth.times import any_time, at, clinic_time

_OBSERVATIONS = ("heart_rate", "resp_rate", "temperature", "spo2", "bp")


def injury(chart: Chart, day: date, _: object) -> None:
    """An A&E attendance with an injury: triage observations, imaging if needed, treatment."""
    rng = chart.rng
    hurt = rng.choices(cond.INJURIES, weights=[i.weight for i in cond.INJURIES])[0]
    when = any_time(rng, day)
    doctor = rng.choice(chart.hospital.of_kind(ED))
    ed = chart.hospital.emergency_id
    minutes = rng.randint(120, 300)
    eid = chart.visit("EMER", clinical.EMERGENCY, when, minutes, doctor, hurt.code, in_hospital=ed)
    resolved = when + timedelta(days=rng.randint(*hurt.days))
    cid = chart.diagnose(eid, hurt.code, when, doctor, when - timedelta(hours=rng.randint(1, 8)), resolved)
    nurse = rng.choice(chart.hospital.of_kind(NURSE))
    keys = _OBSERVATIONS if chart.age(day) >= 16 else _OBSERVATIONS[:4]
    chart.vitals(eid, when + timedelta(minutes=15), nurse, keys)
    if hurt.xray:
        chart.procedure(eid, clinical.RADIOGRAPHY, when + timedelta(minutes=60), 15, doctor, ed, cid)
    if hurt.procedure is not None:
        chart.procedure(eid, hurt.procedure, when + timedelta(minutes=100), 30, doctor, ed, cid)
    if chart.age(day) >= 12:
        chart.prescribe(eid, med.PARACETAMOL, when + timedelta(minutes=110), doctor, cid)


def mammogram(chart: Chart, day: date, _: object) -> None:
    """NHS Breast Screening Programme mammography at the hospital's breast unit."""
    when = clinic_time(chart.rng, day)
    radiographer = chart.rng.choice(chart.hospital.of_kind(NURSE))
    site = chart.hospital.site_id
    eid = chart.visit("AMB", clinical.CHECK_UP, when, 30, radiographer, in_hospital=site)
    chart.procedure(eid, clinical.MAMMOGRAPHY, when + timedelta(minutes=5), 15, radiographer, site, None)


def antenatal(chart: Chart, day: date, delivery: object) -> None:
    """The booking appointment: pregnancy confirmed and recorded until the expected delivery."""
    assert isinstance(delivery, date)
    rng = chart.rng
    when, gp = clinic_time(rng, day), chart.gp()
    eid = chart.visit("AMB", clinical.PRENATAL, when, 20, gp, clinical.NORMAL_PREGNANCY)
    conceived = at(day - timedelta(days=rng.randint(49, 70)), 12)
    cid = chart.diagnose(
        eid, clinical.NORMAL_PREGNANCY, when, gp, conceived, at(delivery, 12), problem_list=True
    )
    chart.condition_ids["pregnancy"] = cid
    chart.procedure(eid, clinical.PREGNANCY_TEST, when, 5, gp, chart.practice.location_id, cid)
    chart.vitals(eid, when, gp, ("bp", "weight"))


# reason -> (diagnosis, length of stay range, lead clinician, procedures, infection, emergency)
_ADMISSIONS: dict[str, tuple[Code | None, tuple[int, int], str, tuple[Code, ...], bool, bool]] = {
    "appendicitis": (
        cond.APPENDICITIS, (2, 4), SURGEON, (clinical.ULTRASOUND, clinical.APPENDICECTOMY), True, True
    ),
    "pneumonia": (cond.PNEUMONIA, (3, 10), PHYSICIAN, (clinical.CHEST_XRAY,), True, True),
    "mi": (cond.MYOCARDIAL_INFARCTION, (3, 7), CARDIOLOGIST, (clinical.ECG, clinical.PCI), False, True),
    "stroke": (cond.STROKE, (7, 21), PHYSICIAN, (clinical.RADIOGRAPHY,), False, True),
    "knee": (cond.OSTEOARTHRITIS_KNEE, (2, 5), SURGEON, (clinical.KNEE_REPLACEMENT,), False, False),
    "birth": (None, (1, 3), OBSTETRICIAN, (), False, False),
}


def admission(chart: Chart, day: date, reason: object) -> None:
    """An inpatient stay for ``reason`` (a key of the admission table)."""
    assert isinstance(reason, str)
    rng, hospital = chart.rng, chart.hospital
    diagnosis, (shortest, longest), lead_kind, procedures, infection, emergency = _ADMISSIONS[reason]
    nights = rng.randint(shortest, longest)
    stay = min(nights, (chart.end - day).days)
    when = any_time(rng, day) if emergency else at(day, 7, 30)
    lead = rng.choice(hospital.of_kind(lead_kind))
    nurse = rng.choice(hospital.of_kind(NURSE))
    discharged = at(day + timedelta(days=stay), 11) + timedelta(minutes=rng.randrange(360))
    discharged = max(discharged, when + timedelta(hours=4))
    if emergency:
        source, kind = ("emd", "From accident/emergency department"), clinical.EMERGENCY_ADMISSION
    else:
        source = ("outp", "From outpatient department")
        kind = clinical.HOSPITAL_ADMISSION if reason == "birth" else clinical.ELECTIVE_ADMISSION
    minutes = int((discharged - when).total_seconds() // 60)
    ward = hospital.ward_id
    eid = chart.visit("IMP", kind, when, minutes, lead, diagnosis, in_hospital=ward, admitted_from=source)
    # Births and joint replacements treat a condition already on the record; the rest are new diagnoses.
    cid = chart.condition_ids.get("pregnancy" if reason == "birth" else "osteoarthritis")
    if reason not in ("birth", "knee") and diagnosis is not None:
        lasting = reason == "stroke"
        resolved = None if lasting else discharged + timedelta(days=14 if infection else 28)
        onset = when - timedelta(hours=rng.randint(2, 48))
        cid = chart.diagnose(eid, diagnosis, when, lead, onset, resolved, problem_list=lasting)
    chart.vitals(eid, when + timedelta(minutes=20), nurse, _OBSERVATIONS, unwell=infection)
    chart.bloods(eid, when + timedelta(minutes=40), ("fbc", "renal", "crp"), infection)
    theatre = when + (discharged - when) * rng.uniform(0.05, 0.3)
    if reason == "birth":
        procedures = (clinical.CAESAREAN if rng.random() < 0.25 else clinical.NORMAL_DELIVERY,)
    for code in procedures:
        duration = 90 if code in (clinical.APPENDICECTOMY, clinical.KNEE_REPLACEMENT, clinical.PCI) else 30
        chart.procedure(eid, code, theatre, duration, lead, ward, cid)
        theatre += timedelta(minutes=duration + 30)
    for night in range(1, min(stay, 2) + 1):
        morning = at(day + timedelta(days=night), 8)
        chart.vitals(eid, morning, nurse, _OBSERVATIONS, unwell=infection and night == 1)
    if reason == "pneumonia":
        chart.prescribe(eid, med.AMOXICILLIN, discharged, lead, cid)
    elif reason in ("appendicitis", "knee", "birth") and chart.age(day) >= 12:
        chart.prescribe(eid, med.PARACETAMOL, discharged, lead, cid)
