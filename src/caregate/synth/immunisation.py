"""The UK routine immunisation schedule, as the synthetic records apply it.

Doses follow the routine schedule published by UKHSA (Immunisation against infectious disease, "the
Green Book", chapter 11) with the year each programme started, so that a patient born in 1975 has no
rotavirus or HPV doses while one born in 2020 has both. Seasonal influenza and COVID-19 campaigns
are handled separately because they depend on the calendar, not on age alone.

Vaccine codes are SNOMED CT "vaccine product containing only ..." medicinal product concepts, which
Immunization.vaccineCode accepts in UK Core (ValueSet UKCore-VaccineCode draws on SNOMED CT).
"""

from __future__ import annotations

from dataclasses import dataclass

from caregate.synth.clinical import INTRAMUSCULAR, NASAL, ORAL
from caregate.synth.terminology import Code, sct

SIX_IN_ONE = sct(
    "871895005",
    "Vaccine product containing only Bordetella pertussis and Clostridium tetani and Corynebacterium "
    "diphtheriae and Haemophilus influenzae type B and Hepatitis B virus and Human poliovirus antigens",
)
FIVE_IN_ONE = sct(
    "871887006",
    "Vaccine product containing only Bordetella pertussis and Clostridium tetani and Corynebacterium "
    "diphtheriae and Haemophilus influenzae type B and Human poliovirus antigens",
)
ROTAVIRUS = sct("871761004", "Vaccine product containing only Rotavirus antigen")
PNEUMOCOCCAL_CONJUGATE = sct(
    "1119254000",
    "Vaccine product containing only Streptococcus pneumoniae Danish serotype 1, 3, 4, 5, 6A, 6B, 7F, "
    "9V, 14, 18C, 19A, 19F, and 23F capsular polysaccharide antigens",
)
MMR = sct(
    "871831003",
    "Vaccine product containing only Measles morbillivirus and Mumps orthorubulavirus and Rubella "
    "virus antigens",
)
PRESCHOOL_BOOSTER = sct(
    "871878002",
    "Vaccine product containing only Bordetella pertussis and Clostridium tetani and Corynebacterium "
    "diphtheriae and Human poliovirus antigens",
)
HPV = sct(
    "1209197008",
    "Vaccine product containing only Human papillomavirus 6, 11, 16, 18, 31, 33, 45, 52 and 58 antigens",
)
TEENAGE_BOOSTER = sct(
    "871837004",
    "Vaccine product containing only Clostridium tetani and Corynebacterium diphtheriae and Human "
    "poliovirus antigens",
)
MENACWY = sct(
    "871873006", "Vaccine product containing only Neisseria meningitidis serogroup A, C, W135 and Y antigens"
)
PNEUMOCOCCAL_POLYSACCHARIDE = sct(
    "1119220001",
    "Vaccine product containing only Streptococcus pneumoniae Danish serotype 1, 2, 3, 4, 5, 6B, 7F, 8, "
    "9N, 9V, 10A, 11A, 12F, 14, 15B, 17F, 18C, 19A, 19F, 20, 22F, 23F, and 33F capsular polysaccharide "
    "antigens",
)
SHINGLES_LIVE = sct(
    "871919004", "Vaccine product containing only live attenuated Human alphaherpesvirus 3 antigen"
)
SHINGLES_RECOMBINANT = sct(
    "1156183006",
    "Vaccine product containing only Human alphaherpesvirus 3 recombinant surface glycoprotein E antigen",
)
INFLUENZA = sct("836377006", "Vaccine product containing Influenza virus antigen")
COVID19_MRNA = sct(
    "1119349007",
    "Vaccine product containing only Severe acute respiratory syndrome coronavirus 2 messenger "
    "ribonucleic acid",
)


@dataclass(frozen=True, slots=True)
class Dose:
    """One scheduled dose: the vaccine, the age it is given at, and the years the programme ran."""

    vaccine: Code
    age_days: int
    dose_number: int
    route: Code = INTRAMUSCULAR
    since: int = 0  # first birth-cohort year the dose applies to, by the year it falls due
    until: int = 9999  # last year the dose was given at this point in the schedule
    sex: str | None = None


ROUTINE: tuple[Dose, ...] = (
    Dose(FIVE_IN_ONE, 56, 1, since=2004, until=2017),
    Dose(FIVE_IN_ONE, 84, 2, since=2004, until=2017),
    Dose(FIVE_IN_ONE, 112, 3, since=2004, until=2017),
    Dose(SIX_IN_ONE, 56, 1, since=2017),
    Dose(SIX_IN_ONE, 84, 2, since=2017),
    Dose(SIX_IN_ONE, 112, 3, since=2017),
    Dose(ROTAVIRUS, 56, 1, ORAL, since=2013),
    Dose(ROTAVIRUS, 84, 2, ORAL, since=2013),
    Dose(PNEUMOCOCCAL_CONJUGATE, 84, 1, since=2006),
    Dose(PNEUMOCOCCAL_CONJUGATE, 365, 2, since=2006),
    Dose(MMR, 365, 1, since=1988),
    Dose(MMR, 1216, 2, since=1996),
    Dose(PRESCHOOL_BOOSTER, 1216, 1, since=2004),
    Dose(HPV, 4563, 1, since=2008, sex="female"),
    Dose(HPV, 4563, 1, since=2019, sex="male"),
    Dose(TEENAGE_BOOSTER, 5114, 1, since=2006),
    Dose(MENACWY, 5114, 1, since=2015),
    Dose(PNEUMOCOCCAL_POLYSACCHARIDE, 65 * 365 + 30, 1, since=2003),
    Dose(SHINGLES_LIVE, 70 * 365 + 60, 1, since=2013, until=2023),
    Dose(SHINGLES_RECOMBINANT, 70 * 365 + 60, 1, since=2023),
)

FLU_FROM_YEAR = 2000
"""First autumn campaign modelled for over-65s and adults with long-term conditions."""
CHILD_FLU_FROM_YEAR = 2014
"""First autumn campaign offering the live nasal vaccine to children aged 2 to 10."""
COVID_PRIMARY_YEAR = 2021
"""Year of the COVID-19 primary course for adults; later autumn boosters go to older adults."""

CHILD_FLU_ROUTE = NASAL


def all_snomed_codes() -> list[Code]:
    """Every SNOMED CT concept in this module, for terminology checks in tests."""
    return [value for value in globals().values() if isinstance(value, Code)]
