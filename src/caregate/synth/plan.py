"""Deciding what happens in a synthetic life, before any resource is written.

The planner walks through a person's life one year of age at a time and draws the events of that
year: long-term conditions starting (with risks that depend on age, sex, smoking, weight and the
conditions already present), GP consultations, A&E visits, admissions, pregnancies, and the
scheduled contacts of UK primary care: child health reviews, the routine immunisation schedule,
seasonal flu and COVID-19 campaigns, NHS Health Checks (ages 40-74, every five years), cervical
screening (25-64) and breast screening (50-70). The result is a list of dated events that
:mod:`caregate.synth.lifetime` replays in date order.

Coded GP records in England date from practice computerisation in the late 1980s and 1990s, so
routine contacts before :data:`RECORD_START` are not recorded; diagnoses of long-term conditions,
immunisations, pregnancies, admissions and allergies are, as a summarised history would carry them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from caregate.synth import immunisation as imm
from caregate.synth.clinical import ALLERGIES
from caregate.synth.conditions import CHRONIC
from caregate.synth.physiology import Body
from caregate.synth.times import add_years, age_on, random_day, working_day

RECORD_START = date(1990, 1, 1)
"""Earliest date of routine contacts (consultations, reviews, checks, A&E) in a record."""
ROUTINE = frozenset({"consult", "review", "injury", "child_check", "health_check", "cervical", "mammogram"})
UNBOOKED_ADMISSIONS = frozenset({"appendicitis", "pneumonia", "mi", "stroke", "birth"})
"""Admission reasons that happen on any day of the week, like A&E attendances."""
CARDIOVASCULAR = frozenset(
    {"hypertension", "diabetes", "chd", "af", "heart_failure", "ckd", "hyperlipidaemia"}
)
AT_RISK = frozenset({"asthma", "diabetes", "copd", "chd", "heart_failure", "ckd"})


@dataclass(frozen=True, slots=True, order=True)
class Event:
    """Something that happens on ``day``; ``seq`` keeps same-day events in planning order."""

    day: date
    seq: int
    kind: str
    arg: object = None


def poisson(rng: random.Random, rate: float) -> int:
    """A Poisson-distributed count with mean ``rate`` (Knuth's method; rates here are small)."""
    limit, count, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def consultation_rate(age: int, sex: str) -> float:
    """GP consultations a year: high in infancy and old age, higher for women of working age."""
    if age < 5:
        return 2.0
    if age < 16:
        return 0.8
    if age < 45:
        return 1.3 if sex == "female" else 0.7
    if age < 65:
        return 1.4 if sex == "female" else 1.1
    return 1.6 if age < 75 else 2.0


class Planner:
    """Collects the events of one life; ``chronic`` records each long-term condition's diagnosis date."""

    def __init__(self, rng: random.Random, body: Body, sex: str, end: date) -> None:
        self.rng, self.body, self.sex, self.end = rng, body, sex, end
        self.birth = body.birth
        self.events: list[Event] = []
        self.chronic: dict[str, date] = {}
        self.replaced_knee = False

    def add(self, day: date, kind: str, arg: object = None) -> date | None:
        """Plan ``kind`` on ``day``, moved to a weekday if it is booked; the day used, or None if dropped."""
        if kind != "injury" and not (kind == "admission" and arg in UNBOOKED_ADMISSIONS):
            day = working_day(day, self.end)
        if day < RECORD_START and kind in ROUTINE:
            return None
        if not self.birth <= day <= self.end:
            return None
        self.events.append(Event(day, len(self.events), kind, arg))
        return day

    def has(self, key: str, day: date, years: int = 0) -> bool:
        """True if long-term condition ``key`` was diagnosed at least ``years`` years before ``day``."""
        since = self.chronic.get(key)
        return since is not None and add_years(since, years) <= day

    def plan(self) -> list[Event]:
        """Every event of the life up to ``end``, in date order."""
        for age in range(age_on(self.birth, self.end) + 1):
            start = add_years(self.birth, age)
            last = min(self.end, add_years(self.birth, age + 1) - timedelta(days=1))
            self._year(age, start, last)
        self._routine_immunisations()
        self._campaigns()
        self._allergies()
        return sorted(self.events)

    def _year(self, age: int, start: date, last: date) -> None:
        """Events of the year of life from ``start`` to ``last``, at ``age``."""
        rng = self.rng
        for condition in CHRONIC:
            if condition.key in self.chronic or (condition.sex and condition.sex != self.sex):
                continue
            if rng.random() < condition.yearly_risk(age) * self._risk_factor(condition.key, age, start):
                diagnosed = min(self.end, random_day(rng, start, last) + timedelta(days=rng.randrange(45)))
                planned = self.add(diagnosed, "diagnose", condition.key)
                self.chronic[condition.key] = planned or diagnosed
        for _ in range(poisson(rng, consultation_rate(age, self.sex))):
            self.add(random_day(rng, start, last), "consult")
        injury_rate = 0.2 if age < 5 else 0.25 if age < 18 else 0.15 if age < 65 else 0.25
        for _ in range(poisson(rng, injury_rate)):
            self.add(random_day(rng, start, last), "injury")
        if self.chronic and start > min(self.chronic.values()):
            self.add(random_day(rng, start, last), "review")
        self._admissions(age, start, last)
        self._scheduled(age, start, last)

    def _risk_factor(self, key: str, age: int, day: date) -> float:
        """How much smoking, weight and existing conditions multiply the onset risk of ``key``."""
        body, has = self.body, self.has
        smoker = body.smoking_from is not None and age >= body.smoking_from
        factors = {
            "diabetes": 2.5 if body.adult_bmi >= 30 else 1.0,
            "hypertension": 1.5 if body.adult_bmi >= 30 else 1.0,
            "copd": 1.0 if smoker and age >= (body.smoking_from or 0) + 15 else 0.0,
            "chd": (2.0 if smoker else 1.0) * (2.0 if has("diabetes", day) else 1.0),
            "ckd": 2.5 if has("diabetes", day) or has("hypertension", day) else 1.0,
            "heart_failure": 4.0 if has("chd", day) else 1.0,
            "af": 1.5 if has("hypertension", day) else 1.0,
        }
        return factors.get(key, 1.0)

    def _admissions(self, age: int, start: date, last: date) -> None:
        """Emergency and planned admissions of the year, and pregnancies ending in a hospital birth."""
        rng, has = self.rng, self.has
        day = random_day(rng, start, last)
        chances = (
            ("appendicitis", 0.0012 if 5 <= age <= 40 else 0.0),
            ("pneumonia", (0.012 if age >= 65 else 0.0) + (0.04 if has("copd", start) else 0.0)),
            ("mi", 0.02 if has("chd", start) else 0.0),
            ("stroke", 0.006 if age >= 60 and (has("af", start) or has("hypertension", start)) else 0.0),
            ("knee", 0.1 if has("osteoarthritis", start, 2) and not self.replaced_knee else 0.0),
        )
        for reason, chance in chances:
            if rng.random() < chance:
                self.replaced_knee |= reason == "knee"
                self.add(day, "admission", reason)
        if self.sex == "female" and 18 <= age <= 42 and self._births() < 3:
            recent = any(e.kind == "antenatal" and (start - e.day).days < 730 for e in self.events)
            if not recent and rng.random() < (0.08 if 22 <= age <= 36 else 0.03):
                conceived = random_day(rng, start, last)
                delivery = conceived + timedelta(days=rng.randint(259, 287))
                if delivery <= self.end:
                    self.add(conceived + timedelta(days=rng.randint(49, 84)), "antenatal", delivery)
                    self.add(delivery, "admission", "birth")

    def _births(self) -> int:
        """Pregnancies planned so far."""
        return sum(1 for event in self.events if event.kind == "antenatal")

    def _scheduled(self, age: int, start: date, last: date) -> None:
        """Child health reviews, NHS Health Checks and screening invitations accepted this year."""
        rng = self.rng
        if age == 0:
            self.add(start + timedelta(days=rng.randint(42, 60)), "child_check", 2)
        if age in (1, 2):
            self.add(start + timedelta(days=rng.randint(0, 90)), "child_check", 12 * age)
        if age in range(40, 75, 5) and start.year >= 2009 and rng.random() < 0.5:
            day = random_day(rng, start, last)
            if not any(self.has(key, day) for key in CARDIOVASCULAR):
                self.add(day, "health_check")
        if self.sex == "female":
            due = 25 <= age <= 64 and (age - 25) % (3 if age < 50 else 5) == 0
            if due and start.year >= 1988 and rng.random() < 0.7:
                self.add(random_day(rng, start, last), "cervical")
            if 50 <= age <= 70 and (age - 50) % 3 == 0 and start.year >= 1990 and rng.random() < 0.7:
                self.add(random_day(rng, start, last), "mammogram")

    def _routine_immunisations(self) -> None:
        """Routine schedule doses, grouped into one appointment per age; most families attend."""
        visits: dict[int, list[imm.Dose]] = {}
        for dose in imm.ROUTINE:
            due = self.birth + timedelta(days=dose.age_days)
            if dose.since <= due.year <= dose.until and dose.sex in (None, self.sex):
                visits.setdefault(dose.age_days, []).append(dose)
        for age_days, doses in sorted(visits.items()):
            if self.rng.random() < (0.93 if age_days < 6000 else 0.7):
                day = self.birth + timedelta(days=age_days + self.rng.randrange(21))
                self.add(day, "vaccinate", tuple(doses))

    def _campaigns(self) -> None:
        """Autumn flu vaccination for eligible groups and the COVID-19 programme from 2021."""
        rng = self.rng
        for year in range(max(imm.FLU_FROM_YEAR, self.birth.year), self.end.year + 1):
            day = date(year, 10, 1) + timedelta(days=rng.randrange(60))
            age = age_on(self.birth, day)
            at_risk = age >= 18 and any(self.has(key, day) for key in AT_RISK)
            if (age >= 65 and rng.random() < 0.75) or (at_risk and rng.random() < 0.5):
                self.add(day, "flu", False)
            elif 2 <= age <= 10 and year >= imm.CHILD_FLU_FROM_YEAR and rng.random() < 0.5:
                self.add(day, "flu", True)
        first = date(imm.COVID_PRIMARY_YEAR, 6, 1)
        age = age_on(self.birth, first)
        if age >= 18 and rng.random() < 0.9:
            offset = 10 if age >= 80 else 40 if age >= 65 else 80 if age >= 50 else 130 if age >= 30 else 160
            dose_one = date(imm.COVID_PRIMARY_YEAR, 1, 1) + timedelta(days=offset + rng.randrange(30))
            self.add(dose_one, "covid", 1)
            self.add(dose_one + timedelta(days=rng.randint(56, 84)), "covid", 2)
        boosters = ((2021, 50, 0.8), (2022, 50, 0.65), (2023, 65, 0.6), (2024, 65, 0.55), (2025, 75, 0.5))
        for number, (year, min_age, uptake) in enumerate(boosters, start=3):
            day = date(year, 9, 20) + timedelta(days=rng.randrange(70))
            if age_on(self.birth, day) >= min_age and rng.random() < uptake:
                self.add(day, "covid", number)

    def _allergies(self) -> None:
        """About a quarter of people have one or two allergies, first recorded at a typical age."""
        rng = self.rng
        count = 2 if rng.random() < 0.05 else 1 if rng.random() < 0.2 else 0
        for allergy in rng.choices(ALLERGIES, weights=[a.weight for a in ALLERGIES], k=count):
            low, high = {"food": (0, 5), "environment": (3, 25), "medication": (1, 60)}[allergy.category]
            first = add_years(self.birth, low)
            if first <= self.end:
                last = min(self.end, add_years(self.birth, high))
                self.add(random_day(rng, first, last), "allergy", allergy)
