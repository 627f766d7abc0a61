"""Problems a synthetic patient can have: self-limiting illnesses, injuries and long-term conditions.

Each entry pairs a SNOMED CT disorder with the few facts the lifetime simulation needs: who gets it
and how often, how long it lasts, and how it is treated and monitored. The rates are rough
approximations of UK primary care incidence, chosen so that populations look plausible in aggregate
(hypertension common in older adults, asthma in children) rather than to be epidemiologically exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from caregate.synth import clinical
from caregate.synth import medications as med
from caregate.synth.medications import Medication
from caregate.synth.terminology import Code, sct


@dataclass(frozen=True, slots=True)
class AcuteProblem:
    """A self-limiting illness seen in a GP consultation and recorded as resolved."""

    code: Code
    min_age: int
    max_age: int
    weight: float  # relative frequency among eligible problems
    days: tuple[int, int]  # range of days until it resolves
    treatment: Medication | None = None
    treat_chance: float = 0.0
    febrile: bool = False
    sex: str | None = None  # "male" | "female" restricts to one sex
    since: int = 0  # first calendar year the problem can occur (COVID-19: 2020)


ACUTE: tuple[AcuteProblem, ...] = (
    AcuteProblem(sct("444814009", "Viral sinusitis"), 5, 120, 5, (7, 21), med.PARACETAMOL, 0.3),
    AcuteProblem(sct("195662009", "Acute viral pharyngitis"), 2, 120, 4, (4, 10), med.PARACETAMOL, 0.4, True),
    AcuteProblem(
        sct("43878008", "Streptococcal sore throat"), 3, 45, 1.5, (5, 10), med.AMOXICILLIN, 0.8, True
    ),
    AcuteProblem(sct("65363002", "Otitis media"), 0, 10, 5, (3, 14), med.AMOXICILLIN, 0.4, True),
    AcuteProblem(sct("10509002", "Acute bronchitis"), 5, 120, 3, (10, 21), med.AMOXICILLIN, 0.3, True),
    AcuteProblem(sct("75498004", "Acute bacterial sinusitis"), 12, 120, 1.5, (7, 14), med.AMOXICILLIN, 0.7),
    AcuteProblem(
        sct("68566005", "Urinary tract infectious disease"), 16, 120, 3, (3, 7), None, 0.0, sex="female"
    ),
    AcuteProblem(sct("279039007", "Low back pain"), 18, 120, 3, (14, 60), med.PARACETAMOL, 0.6),
    AcuteProblem(sct("6142004", "Influenza"), 0, 120, 1.5, (5, 14), med.PARACETAMOL, 0.5, True),
    AcuteProblem(sct("9826008", "Conjunctivitis"), 0, 120, 1.5, (3, 10)),
    AcuteProblem(sct("25374005", "Gastroenteritis"), 0, 120, 2, (2, 7)),
    AcuteProblem(
        sct("840539006", "Disease caused by severe acute respiratory syndrome coronavirus 2"),
        0,
        120,
        2,
        (7, 21),
        med.PARACETAMOL,
        0.3,
        True,
        since=2020,
    ),
)


@dataclass(frozen=True, slots=True)
class Injury:
    """An injury seen in A&E, with the procedure that treats it."""

    code: Code
    procedure: Code | None
    weight: float
    days: tuple[int, int]
    xray: bool = False


INJURIES: tuple[Injury, ...] = (
    Injury(sct("44465007", "Sprain of ankle"), None, 5, (14, 42), xray=True),
    Injury(sct("283371005", "Laceration of forearm"), clinical.SUTURE, 2, (10, 21)),
    Injury(sct("284549007", "Laceration of hand"), clinical.SUTURE, 2, (10, 21)),
    Injury(sct("65966004", "Fracture of forearm"), clinical.IMMOBILISATION, 2, (42, 70), True),
    Injury(sct("16114001", "Fracture of ankle"), clinical.IMMOBILISATION, 1, (42, 90), True),
    Injury(sct("62106007", "Concussion with no loss of consciousness"), None, 1.5, (7, 28)),
)

ASTHMA = sct("195967001", "Asthma")
DIABETES = sct("44054006", "Diabetes mellitus type 2")
HYPERTENSION = sct("38341003", "Hypertensive disorder, systemic arterial")
COPD = sct("13645005", "Chronic obstructive lung disease")
CHD = sct("53741008", "Coronary arteriosclerosis")
HYPERLIPIDAEMIA = sct("55822004", "Hyperlipidemia")
HYPOTHYROIDISM = sct("40930008", "Hypothyroidism")
HEART_FAILURE = sct("84114007", "Heart failure")
ATRIAL_FIBRILLATION = sct("49436004", "Atrial fibrillation")
CKD = sct("709044004", "Chronic kidney disease")
OSTEOARTHRITIS_KNEE = sct("239873007", "Osteoarthritis of knee")
DEPRESSION = sct("35489007", "Depressive disorder")
OBESITY = sct("414916001", "Obesity")
PNEUMONIA = sct("233604007", "Pneumonia")
MYOCARDIAL_INFARCTION = sct("22298006", "Myocardial infarction")
STROKE = sct("230690007", "Cerebrovascular accident")
APPENDICITIS = sct("74400008", "Appendicitis")


@dataclass(frozen=True, slots=True)
class Chronic:
    """A long-term condition: yearly onset risk by age band, treatment, and annual-review tests."""

    key: str
    code: Code
    risk: tuple[tuple[int, float], ...]  # (from age, yearly onset probability), ascending ages
    medications: tuple[Medication, ...] = ()
    labs: tuple[str, ...] = ()  # panel keys from caregate.synth.measures.PANELS
    sex: str | None = None
    smokers_only: bool = False

    def yearly_risk(self, age: int) -> float:
        """The chance of onset during a year of life starting at ``age``."""
        chance = 0.0
        for start, probability in self.risk:
            if age >= start:
                chance = probability
        return chance


CHRONIC: tuple[Chronic, ...] = (
    Chronic("asthma", ASTHMA, ((2, 0.008), (16, 0.001)), (med.SALBUTAMOL, med.BECLOMETASONE)),
    Chronic(
        "hypertension",
        HYPERTENSION,
        ((30, 0.004), (45, 0.014), (65, 0.025)),
        (med.AMLODIPINE,),
        ("renal",),
    ),
    Chronic(
        "diabetes",
        DIABETES,
        ((30, 0.0015), (45, 0.005), (65, 0.007)),
        (med.METFORMIN, med.ATORVASTATIN),
        ("hba1c", "lipids", "renal"),
    ),
    Chronic("hyperlipidaemia", HYPERLIPIDAEMIA, ((40, 0.008),), (med.SIMVASTATIN,), ("lipids",)),
    Chronic("hypothyroidism", HYPOTHYROIDISM, ((25, 0.002),), (med.LEVOTHYROXINE,), ("tsh",), "female"),
    Chronic("copd", COPD, ((45, 0.008),), (med.SALBUTAMOL,), (), smokers_only=True),
    Chronic(
        "chd", CHD, ((50, 0.003), (70, 0.006)), (med.ASPIRIN, med.SIMVASTATIN, med.BISOPROLOL), ("lipids",)
    ),
    Chronic("af", ATRIAL_FIBRILLATION, ((60, 0.004), (75, 0.01)), (med.BISOPROLOL,), ("renal",)),
    Chronic(
        "heart_failure",
        HEART_FAILURE,
        ((65, 0.002), (80, 0.006)),
        (med.FUROSEMIDE, med.RAMIPRIL, med.BISOPROLOL),
        ("renal",),
    ),
    Chronic("ckd", CKD, ((60, 0.004), (75, 0.008)), (), ("renal", "fbc")),
    Chronic("osteoarthritis", OSTEOARTHRITIS_KNEE, ((50, 0.006), (70, 0.01)), (med.PARACETAMOL,)),
    Chronic("depression", DEPRESSION, ((14, 0.006),), (), ("phq9",)),
)

BY_KEY: dict[str, Chronic] = {condition.key: condition for condition in CHRONIC}


def all_snomed_codes() -> list[Code]:
    """Every SNOMED CT concept in this module, for terminology checks in tests."""
    codes = [problem.code for problem in ACUTE] + [condition.code for condition in CHRONIC]
    for injury in INJURIES:
        codes.append(injury.code)
        if injury.procedure is not None:
            codes.append(injury.procedure)
    codes += [OBESITY, PNEUMONIA, MYOCARDIAL_INFARCTION, STROKE, APPENDICITIS]
    return codes
