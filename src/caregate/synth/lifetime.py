"""Primary care over a lifetime: turning planned events into a GP record.

Each handler writes one contact the way an English GP system records it (GP Connect and UK Core
conventions): an Encounter at the practice, what was observed (vital signs, bloods, questionnaire
scores), what was concluded (Conditions), and what was done (prescriptions, vaccinations,
procedures). Long-term conditions get a problem-list entry, repeat prescriptions and an annual
review; self-limiting illnesses are recorded as encounter diagnoses that resolve.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from caregate.synth import clinical, hospital
from caregate.synth import immunisation as imm
from caregate.synth import medications as med
from caregate.synth import physiology as phys
from caregate.synth.chart import Chart
from caregate.synth.clinical import Allergy
from caregate.synth.conditions import ACUTE, BY_KEY, OBESITY
from caregate.synth.directory import Staff
from caregate.synth.measures import PHQ9
from caregate.synth.medications import Medication
from caregate.synth.observations import measurement
from caregate.synth.plan import Event
from caregate.synth.resources import staff_ref
from caregate.synth.results import phq9
from caregate.synth.terminology import Code
from caregate.synth.times import clinic_time
from caregate.synth.treatments import allergy as allergy_resource
from caregate.synth.treatments import immunization

_BLACK_ETHNICITIES = frozenset({"M", "N", "P"})
_LOT_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_ADULT_VITALS = ("bp", "weight", "bmi")
_FEVER_VITALS = ("temperature", "heart_rate", "resp_rate", "spo2")


def _medicines(chart: Chart, key: str, day: date) -> tuple[Medication, ...]:
    """First-line treatment; hypertension follows NICE NG136 (ACE inhibitor under 55, except Black people)."""
    if key == "hypertension":
        young = chart.age(day) < 55 and chart.person.ethnicity[0] not in _BLACK_ETHNICITIES
        return (med.RAMIPRIL,) if young else (med.AMLODIPINE,)
    return BY_KEY[key].medications


def consult(chart: Chart, day: date, _: object) -> None:
    """A GP appointment, usually about a self-limiting illness; telephone consultations from 2020."""
    rng, age = chart.rng, chart.age(day)
    when, gp = clinic_time(rng, day), chart.gp()
    eligible = [
        p for p in ACUTE
        if p.min_age <= age <= p.max_age and p.sex in (None, chart.person.sex) and day.year >= p.since
    ]
    problem = rng.choices(eligible, weights=[p.weight for p in eligible])[0] if rng.random() < 0.8 else None
    remote = day.year >= 2020 and rng.random() < 0.3
    kind = clinical.TELEPHONE if remote else clinical.PROBLEM
    eid = chart.visit("VR" if remote else "AMB", kind, when, 10, gp, problem.code if problem else None)
    if problem is None:
        if not remote:
            chart.vitals(eid, when, gp, ("bp",) if age >= 16 else ("weight",))
        return
    onset = when - timedelta(days=rng.randint(1, 6))
    resolved = when + timedelta(days=rng.randint(*problem.days))
    cid = chart.diagnose(eid, problem.code, when, gp, onset, resolved)
    if not remote and problem.febrile:
        chart.vitals(eid, when, gp, _FEVER_VITALS, unwell=rng.random() < 0.7)
    elif not remote and age >= 16 and rng.random() < 0.3:
        chart.vitals(eid, when, gp, ("bp",))
    if problem.code.code == "43878008" and not remote and rng.random() < 0.3:
        chart.procedure(eid, clinical.THROAT_CULTURE, when, 5, gp, chart.practice.location_id, cid)
    if problem.treatment and age >= 12 and rng.random() < problem.treat_chance:
        chart.prescribe(eid, problem.treatment, when, gp, cid)


def diagnose(chart: Chart, day: date, key: object) -> None:
    """The consultation at which a long-term condition is diagnosed and treatment starts."""
    assert isinstance(key, str)
    condition, rng = BY_KEY[key], chart.rng
    when, gp = clinic_time(rng, day), chart.gp()
    eid = chart.visit("AMB", clinical.PROBLEM, when, 15, gp, condition.code)
    onset = max(chart.person.birth, day - timedelta(days=rng.randint(7, 120)))
    cid = chart.diagnose(eid, condition.code, when, gp, clinic_time(rng, onset), problem_list=True)
    chart.condition_ids[key] = cid
    chart.vitals(eid, when, gp, _ADULT_VITALS if chart.age(day) >= 16 else ("height", "weight"))
    chart.bloods(eid, when, tuple(panel for panel in condition.labs if panel != "phq9"))
    location = chart.practice.location_id
    extra = {"copd": clinical.SPIROMETRY, "af": clinical.ECG, "heart_failure": clinical.ECG}
    if key in extra:
        chart.procedure(eid, extra[key], when, 20, gp, location, cid)
    if key == "depression":
        chart.procedure(eid, clinical.DEPRESSION_SCREENING, when, 10, gp, location, cid)
        _phq9(chart, eid, when, gp)
    for drug in _medicines(chart, key, day):
        if drug.code.code not in chart.repeats:
            chart.prescribe(eid, drug, when, gp, cid, repeats=5)


def _phq9(chart: Chart, eid: str, when: datetime, clinician: Staff) -> None:
    """Record a PHQ-9 depression questionnaire score."""
    score = phq9(chart.rng, chart.context(when.date()))
    oid = chart.ids.next("Observation")
    chart.add(measurement(oid, PHQ9, score.value, chart.patient_id, eid, when, staff_ref(clinician)))


def _check_weight(chart: Chart, eid: str, when: datetime, clinician: Staff) -> None:
    """Add obesity to the problem list the first time an adult's BMI is 30 or more (NICE CG189)."""
    day = when.date()
    if chart.age(day) >= 18 and "obesity" not in chart.condition_ids and phys.bmi(chart.body, day) >= 30:
        chart.condition_ids["obesity"] = chart.diagnose(eid, OBESITY, when, clinician, problem_list=True)


def _review_panels(active: frozenset[str], year: int) -> tuple[str, ...]:
    """Blood tests due at a review: HbA1c yearly in diabetes, renal function yearly where kidneys are at
    risk (CKD, diabetes, heart failure) and every other year otherwise, lipids every third year."""
    due: list[str] = []
    yearly = bool(active & {"ckd", "diabetes", "heart_failure"})
    for key in sorted(active):
        for panel in BY_KEY[key].labs:
            skip = (panel == "renal" and not yearly and year % 2) or (panel == "lipids" and year % 3)
            if panel not in due and panel != "phq9" and not skip:
                due.append(panel)
    return tuple(due)


def review(chart: Chart, day: date, _: object) -> None:
    """The annual long-term conditions review: measurements, bloods and re-authorised repeats."""
    active = chart.active(day)
    if not active:
        return
    rng = chart.rng
    when, gp = clinic_time(rng, day), chart.gp()
    clinician = chart.nurse() if rng.random() < 0.6 else gp
    eid = chart.visit("AMB", clinical.FOLLOW_UP, when, 20, clinician)
    vitals = _ADULT_VITALS + (("heart_rate",) if active & {"af", "heart_failure"} else ())
    chart.vitals(eid, when, clinician, vitals if chart.age(day) >= 16 else ("height", "weight", "bmi"))
    if chart.age(day) >= 16:
        chart.smoking(eid, when, clinician)
    panels = _review_panels(active, day.year)
    chart.bloods(eid, when, panels)
    if "depression" in active:
        _phq9(chart, eid, when, clinician)
    chart.procedure(eid, clinical.MEDICATION_REVIEW, when, 10, clinician, chart.practice.location_id, None)
    for drug, reason in list(chart.repeats.values()):
        chart.prescribe(eid, drug, when, gp, reason, repeats=5)
    _check_weight(chart, eid, when, clinician)


def child_check(chart: Chart, day: date, months: object) -> None:
    """Child health surveillance: the 6-8 week check and the one- and two-year reviews."""
    assert isinstance(months, int)
    when = clinic_time(chart.rng, day)
    clinician = chart.gp() if months <= 2 else chart.nurse()
    eid = chart.visit("AMB", clinical.WELL_CHILD, when, 20, clinician)
    keys = ("weight", "height", "head") if months < 24 else ("weight", "height", "bmi")
    chart.vitals(eid, when, clinician, keys)


def _vaccinate(chart: Chart, day: date, doses: list[tuple[Code, Code, int]]) -> None:
    """One vaccination appointment giving ``doses`` as (vaccine, route, dose number).

    Injections after the first birthday alternate between the upper arms; infants are vaccinated
    in the thigh and oral or nasal vaccines have no site, so those are recorded without one.
    """
    rng = chart.rng
    when, nurse = clinic_time(rng, day), chart.nurse()
    eid = chart.visit("AMB", clinical.VACCINATION, when, 10, nurse)
    arms = (clinical.LEFT_UPPER_ARM, clinical.RIGHT_UPPER_ARM)
    for n, (vaccine, route, number) in enumerate(doses):
        site = arms[n % 2] if route == clinical.INTRAMUSCULAR and chart.age(day) >= 1 else None
        lot = "".join(rng.choice(_LOT_LETTERS) for _ in range(2)) + f"{rng.randrange(10**4):04d}"
        iid = chart.ids.next("Immunization")
        chart.add(immunization(iid, chart.patient_id, eid, vaccine, when, nurse, route, site, lot, number))


def vaccinate(chart: Chart, day: date, doses: object) -> None:
    """Doses of the routine schedule due at the same age, given at one appointment (Green Book ch. 11)."""
    assert isinstance(doses, tuple)
    _vaccinate(chart, day, [(dose.vaccine, dose.route, dose.dose_number) for dose in doses])


def flu(chart: Chart, day: date, nasal: object) -> None:
    """Seasonal flu vaccine: injected for adults, the live nasal spray for children (Green Book ch. 19)."""
    route = imm.CHILD_FLU_ROUTE if nasal else clinical.INTRAMUSCULAR
    _vaccinate(chart, day, [(imm.INFLUENZA, route, 1)])


def covid(chart: Chart, day: date, number: object) -> None:
    """A COVID-19 primary or booster dose, numbered in sequence (Green Book ch. 14a)."""
    assert isinstance(number, int)
    _vaccinate(chart, day, [(imm.COVID19_MRNA, clinical.INTRAMUSCULAR, number)])


def health_check(chart: Chart, day: date, _: object) -> None:
    """An NHS Health Check: cardiovascular risk factors measured by a practice nurse."""
    when, nurse = clinic_time(chart.rng, day), chart.nurse()
    eid = chart.visit("AMB", clinical.CHECK_UP, when, 30, nurse)
    chart.vitals(eid, when, nurse, ("bp", "height", "weight", "bmi"))
    chart.smoking(eid, when, nurse)
    chart.bloods(eid, when, ("lipids", "hba1c"))
    _check_weight(chart, eid, when, nurse)


def cervical(chart: Chart, day: date, _: object) -> None:
    """NHS Cervical Screening Programme sample taken by the practice nurse (ages 25-64)."""
    when, nurse = clinic_time(chart.rng, day), chart.nurse()
    eid = chart.visit("AMB", clinical.CHECK_UP, when, 15, nurse)
    chart.procedure(eid, clinical.CERVICAL_SCREENING, when, 10, nurse, chart.practice.location_id, None)


def allergy(chart: Chart, day: date, found: object) -> None:
    """A consultation after a reaction, at which the allergy is recorded."""
    assert isinstance(found, Allergy)
    rng = chart.rng
    when, gp = clinic_time(rng, day), chart.gp()
    eid = chart.visit("AMB", clinical.PROBLEM, when, 10, gp, found.code)
    reaction = rng.choice(found.reactions)
    severity = "severe" if reaction == clinical.ANAPHYLAXIS else rng.choice(("mild", "moderate"))
    onset = chart.since_birth(when - timedelta(days=rng.randint(1, 20)))
    aid = chart.ids.next("AllergyIntolerance")
    chart.add(
        allergy_resource(
            aid, chart.patient_id, eid, found.code, found.category, reaction, severity, onset, when, gp
        )
    )


HANDLERS: dict[str, Callable[[Chart, date, object], None]] = {
    "consult": consult,
    "diagnose": diagnose,
    "review": review,
    "child_check": child_check,
    "vaccinate": vaccinate,
    "flu": flu,
    "covid": covid,
    "health_check": health_check,
    "cervical": cervical,
    "allergy": allergy,
    "antenatal": hospital.antenatal,
    "injury": hospital.injury,
    "mammogram": hospital.mammogram,
    "admission": hospital.admission,
}


def replay(chart: Chart, events: list[Event]) -> None:
    """Write every planned event into ``chart`` in date order."""
    for event in events:
        HANDLERS[event.kind](chart, event.day, event.arg)
