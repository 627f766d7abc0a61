"""Medicines the synthetic GP records prescribe, coded with NHS dm+d.

UK prescribing systems code medicines with the NHS Dictionary of Medicines and Devices (dm+d), whose
Virtual Medicinal Product (VMP) ids are SNOMED CT concept ids in the UK drug extension, so a VMP is
written with the system ``http://snomed.info/sct`` (UK Core MedicationRequest, "medication[x]").
Every code here is the VMP as named in dm+d, such as "Ramipril 5mg capsules".

Dose units are dm+d units of presentation (tablet, capsule, dose), which are SNOMED CT concepts too.
"""

from __future__ import annotations

from dataclasses import dataclass

from caregate.synth.clinical import ORAL, RESPIRATORY
from caregate.synth.terminology import Code, sct

TABLET = sct("428673006", "tablet")
CAPSULE = sct("428641000", "capsule")
DOSE = sct("3317411000001100", "dose")


@dataclass(frozen=True, slots=True)
class Medication:
    """A VMP with the usual adult instructions a GP would attach to it."""

    code: Code
    instructions: str
    dose: float  # units of presentation per administration
    unit: Code
    per_day: float  # administrations per day (the usual maximum for "when required")
    route: Code
    supply_days: int  # days one issue lasts
    as_needed: bool = False

    def quantity(self) -> int:
        """Units supplied per issue: enough for ``supply_days`` at the stated dose."""
        return round(self.dose * self.per_day * self.supply_days)


METFORMIN = Medication(
    sct("325278007", "Metformin 500mg tablets"), "One tablet twice a day with food", 1, TABLET, 2, ORAL, 56
)
AMLODIPINE = Medication(
    sct("319283006", "Amlodipine 5mg tablets"), "One tablet once a day", 1, TABLET, 1, ORAL, 56
)
RAMIPRIL = Medication(
    sct("318902004", "Ramipril 5mg capsules"), "One capsule once a day", 1, CAPSULE, 1, ORAL, 56
)
SIMVASTATIN = Medication(
    sct("320000009", "Simvastatin 40mg tablets"), "One tablet at night", 1, TABLET, 1, ORAL, 56
)
ATORVASTATIN = Medication(
    sct("320029006", "Atorvastatin 10mg tablets"), "One tablet once a day", 1, TABLET, 1, ORAL, 56
)
ASPIRIN = Medication(
    sct("319773006", "Aspirin 75mg dispersible tablets"), "One tablet once a day", 1, TABLET, 1, ORAL, 56
)
BISOPROLOL = Medication(
    sct("318590006", "Bisoprolol 5mg tablets"), "One tablet once a day", 1, TABLET, 1, ORAL, 56
)
FUROSEMIDE = Medication(
    sct("317972000", "Furosemide 40mg tablets"), "One tablet each morning", 1, TABLET, 1, ORAL, 56
)
LEVOTHYROXINE = Medication(
    sct("374296008", "Levothyroxine sodium 100microgram tablets"),
    "One tablet each morning before breakfast",
    1,
    TABLET,
    1,
    ORAL,
    56,
)
SALBUTAMOL = Medication(
    sct("39113611000001102", "Salbutamol 100micrograms/dose inhaler CFC free"),
    "Two puffs up to four times a day when required",
    2,
    DOSE,
    4,
    RESPIRATORY,
    25,
    as_needed=True,
)
BECLOMETASONE = Medication(
    sct("408063002", "Beclometasone 100micrograms/dose inhaler CFC free"),
    "Two puffs twice a day",
    2,
    DOSE,
    2,
    RESPIRATORY,
    50,
)
PARACETAMOL = Medication(
    sct("322236009", "Paracetamol 500mg tablets"),
    "One or two tablets up to four times a day when required",
    2,
    TABLET,
    4,
    ORAL,
    4,
    as_needed=True,
)
AMOXICILLIN = Medication(
    sct("323509004", "Amoxicillin 250mg capsules"),
    "Two capsules three times a day for five days",
    2,
    CAPSULE,
    3,
    ORAL,
    5,
)

ALL: tuple[Medication, ...] = (
    METFORMIN,
    AMLODIPINE,
    RAMIPRIL,
    SIMVASTATIN,
    ATORVASTATIN,
    ASPIRIN,
    BISOPROLOL,
    FUROSEMIDE,
    LEVOTHYROXINE,
    SALBUTAMOL,
    BECLOMETASONE,
    PARACETAMOL,
    AMOXICILLIN,
)
