"""Plausible measurement values for a synthetic person at a point in their life.

Values are drawn around simple models rather than sampled independently, so a record reads like one
person: a child grows along one curve, adult weight drifts slowly around the person's own body mass
index, blood pressure rises with age and falls once treated, and laboratory results move with the
conditions the person has (HbA1c with diabetes, eGFR with chronic kidney disease and age). The
models are coarse approximations of UK growth charts and adult norms, meant to keep every value in a
believable range, not to reproduce population statistics.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

from caregate.synth.times import age_on


@dataclass(frozen=True, slots=True)
class Body:
    """A person's stable physical traits, chosen once at birth."""

    sex: str
    birth: date
    adult_height: float  # cm
    adult_bmi: float  # kg/m2 at age 40
    bp_tendency: float  # mmHg added to the age-expected systolic pressure
    smoking_from: int | None  # age started smoking, None if never
    smoking_until: int | None  # age stopped, None if still smoking

    def months(self, day: date) -> float:
        """Age in months on ``day`` (fractional)."""
        return (day - self.birth).days / 30.4375

    def smoking_status(self, day: date) -> str:
        """Smoking status on ``day``: "never", "current" or "ex"."""
        age = age_on(self.birth, day)
        if self.smoking_from is None or age < self.smoking_from:
            return "never"
        if self.smoking_until is not None and age >= self.smoking_until:
            return "ex"
        return "current"


def make_body(rng: random.Random, sex: str, birth: date) -> Body:
    """Traits for a newborn of ``sex``; about a quarter of people smoke at some point."""
    height = rng.gauss(176.0, 7.0) if sex == "male" else rng.gauss(162.5, 6.5)
    bmi = min(44.0, max(19.0, rng.gauss(27.0, 4.5)))
    start = rng.randint(14, 25) if rng.random() < 0.27 else None
    stop = None
    if start is not None and rng.random() < 0.6:
        stop = start + rng.randint(3, 35)
    return Body(sex, birth, height, bmi, rng.gauss(0.0, 8.0), start, stop)


def height_cm(body: Body, day: date) -> float:
    """Height (or length, in infants) on ``day``, following a smoothed UK-90-like growth curve."""
    months = body.months(day)
    grown_by = 16.0 if body.sex == "female" else 18.0
    if months < 6:
        return 50.0 + 2.7 * months
    if months < 24:
        return 66.2 + 1.1 * (months - 6)
    years = months / 12
    child = 86.0 + 6.0 * (years - 2)
    if years < 11:
        return child
    at_eleven = 86.0 + 6.0 * 9
    if years >= grown_by:
        return body.adult_height
    share = (years - 11) / (grown_by - 11)
    return at_eleven + (body.adult_height - at_eleven) * share


def bmi(body: Body, day: date) -> float:
    """Body mass index on ``day``: child norms, then drift towards the person's adult value."""
    years = body.months(day) / 12
    if years < 2:
        return 16.5
    if years < 18:
        return 15.8 + (years - 2) / 16 * (body.adult_bmi - 15.8) * 0.8
    return body.adult_bmi - 0.06 * (40 - years) if years < 40 else body.adult_bmi + 0.02 * (years - 40)


def weight_kg(body: Body, day: date) -> float:
    """Weight on ``day`` implied by height and BMI; infants follow a weight-for-age line."""
    months = body.months(day)
    if months < 6:
        return 3.4 + 0.75 * months
    return bmi(body, day) * (height_cm(body, day) / 100) ** 2


def head_cm(body: Body, day: date) -> float:
    """Head circumference in the first two years (35 cm at birth, about 46 cm at one year)."""
    months = min(24.0, body.months(day))
    if months <= 12:
        return 35.0 + 11.0 * (months / 12) ** 0.6
    return 46.0 + 2.5 * (months - 12) / 12


def heart_rate(rng: random.Random, age: int, fever: bool, arrhythmia: bool) -> int:
    """Resting pulse: fast in infancy, slower with age; fever and atrial fibrillation raise it."""
    base = 130.0 if age < 1 else 105.0 if age < 5 else 85.0 if age < 12 else 72.0
    base += (12.0 if fever else 0.0) + (18.0 if arrhythmia else 0.0)
    return round(rng.gauss(base, 7.0))


def respiratory_rate(rng: random.Random, age: int, unwell: bool) -> int:
    """Breaths per minute by age band, raised in respiratory illness."""
    base = 38.0 if age < 1 else 26.0 if age < 5 else 20.0 if age < 12 else 15.0
    return max(8, round(rng.gauss(base + (5.0 if unwell else 0.0), 2.0)))


def temperature(rng: random.Random, fever: bool) -> float:
    """Body temperature in Celsius: normal around 36.8, febrile 37.8 to 39.5."""
    return round(rng.uniform(37.8, 39.5) if fever else rng.gauss(36.8, 0.25), 1)


def oxygen_saturation(rng: random.Random, lung_disease: bool, acute: bool) -> int:
    """Pulse oximetry percentage; chronic lung disease and acute illness lower it."""
    value = rng.gauss(97.5, 1.0) - (3.0 if lung_disease else 0.0) - (2.0 if acute else 0.0)
    return min(100, max(82, round(value)))


def blood_pressure(
    rng: random.Random, body: Body, day: date, hypertensive: bool, treated: bool
) -> tuple[int, int]:
    """(systolic, diastolic) in mmHg: age-related rise, personal tendency, disease and treatment."""
    age = age_on(body.birth, day)
    systolic = (100.0 + 0.6 * age if age < 18 else 112.0 + 0.45 * (age - 18)) + body.bp_tendency * 0.6
    if hypertensive:
        systolic += 12.0 if treated else 28.0
    systolic = rng.gauss(systolic, 7.0)
    diastolic = rng.gauss(systolic * 0.58 + 8.0, 5.0)
    return round(min(220.0, max(80.0, systolic))), round(min(130.0, max(45.0, diastolic)))


def egfr_for(age: int, kidney_disease: bool, rng: random.Random) -> float:
    """Estimated GFR in mL/min/1.73m2: declines about one unit a year after 40; CKD stage 3."""
    if kidney_disease:
        return rng.uniform(32.0, 58.0)
    return min(125.0, max(61.0, rng.gauss(112.0 - max(0, age - 40) * 0.9, 8.0)))


def creatinine_for(egfr: float, sex: str, age: int) -> float:
    """Serum creatinine (umol/L) consistent with ``egfr``, by inverting CKD-EPI 2009 roughly."""
    kappa, alpha, factor = (0.7, -0.329, 1.018) if sex == "female" else (0.9, -0.411, 1.0)
    ratio = egfr / (141.0 * factor * 0.993**age)  # (Scr/kappa) raised to the branch's exponent
    scr_mg_dl = kappa * ratio ** (1 / (alpha if ratio > 1 else -1.209))
    return max(35.0, min(400.0, scr_mg_dl * 88.4))


def jitter(rng: random.Random, centre: float, spread: float, low: float, high: float) -> float:
    """A normal draw around ``centre`` clipped to [low, high]."""
    return min(high, max(low, rng.gauss(centre, spread)))


def round_to(value: float, decimals: int) -> float | int:
    """``value`` rounded for reporting; integers when no decimals are reported."""
    if decimals == 0:
        return round(value)
    factor = 10**decimals
    return math.floor(value * factor + 0.5) / factor
