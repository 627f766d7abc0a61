"""LOINC observables the synthetic records measure, with UCUM units and reference ranges.

Vital signs use the LOINC codes and UCUM units that the FHIR R4 vital signs profiles require
(http://hl7.org/fhir/R4/observation-vitalsigns.html): each Observation carries the category
``vital-signs``, the profile's LOINC code, and a UCUM ``valueQuantity``. Laboratory results use the
SI units UK laboratories report (mmol/L, umol/L, g/L, mmol/mol for HbA1c under the IFCC standard),
which is why HbA1c is coded 59261-8 (IFCC protocol, mmol/mol) rather than 4548-4 (percent, DCCT).

Reference ranges are typical UK adult ranges (Pathology Harmony, where one exists).
"""

from __future__ import annotations

from dataclasses import dataclass

from caregate.synth.terminology import Code, loinc

VITAL_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
"""Prefix of the FHIR R4 core vital signs profiles (heartrate, bp, bodyweight, ...)."""


@dataclass(frozen=True, slots=True)
class Measure:
    """One quantitative observable: code, UCUM unit, precision and (for labs) reference range."""

    key: str
    code: Code
    unit: str  # human-readable unit
    ucum: str  # UCUM code
    decimals: int
    category: str  # observation-category code: vital-signs | laboratory | survey
    low: float | None = None
    high: float | None = None
    profile: str | None = None  # FHIR core vital signs profile id


def _vital(key: str, code: str, display: str, unit: str, ucum: str, decimals: int, profile: str) -> Measure:
    """A vital sign measure conforming to the FHIR core profile ``profile``."""
    return Measure(key, loinc(code, display), unit, ucum, decimals, "vital-signs", profile=profile)


def _lab(
    key: str,
    code: str,
    display: str,
    unit: str,
    ucum: str,
    decimals: int,
    low: float | None,
    high: float | None,
) -> Measure:
    """A laboratory measure with its reference range (either limit may be open)."""
    return Measure(key, loinc(code, display), unit, ucum, decimals, "laboratory", low, high)


VITALS: dict[str, Measure] = {
    m.key: m
    for m in (
        _vital("heart_rate", "8867-4", "Heart rate", "beats/minute", "/min", 0, "heartrate"),
        _vital("resp_rate", "9279-1", "Respiratory rate", "breaths/minute", "/min", 0, "resprate"),
        _vital("temperature", "8310-5", "Body temperature", "Cel", "Cel", 1, "bodytemp"),
        _vital("weight", "29463-7", "Body weight", "kg", "kg", 1, "bodyweight"),
        _vital("height", "8302-2", "Body height", "cm", "cm", 1, "bodyheight"),
        _vital("bmi", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2", 1, "bmi"),
        _vital("head", "9843-4", "Head Occipital-frontal circumference", "cm", "cm", 1, "headcircum"),
        _vital("spo2", "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry",
               "%", "%", 0, "oxygensat"),
    )
}

SPO2_CORE = loinc("2708-6", "Oxygen saturation in Arterial blood")
"""Second coding the oxygensat profile requires alongside the pulse oximetry code."""

BLOOD_PRESSURE = loinc("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = loinc("8480-6", "Systolic blood pressure")
DIASTOLIC = loinc("8462-4", "Diastolic blood pressure")
MM_HG = ("mmHg", "mm[Hg]")

LABS: dict[str, Measure] = {
    m.key: m
    for m in (
        _lab("hba1c", "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol",
             "mmol/mol", "mmol/mol", 0, 20, 41),
        _lab("cholesterol", "14647-2", "Cholesterol [Moles/volume] in Serum or Plasma",
             "mmol/L", "mmol/L", 1, None, 5.0),
        _lab("hdl", "14646-4", "Cholesterol in HDL [Moles/volume] in Serum or Plasma",
             "mmol/L", "mmol/L", 1, 1.0, None),
        _lab("ldl", "22748-8", "Cholesterol in LDL [Moles/volume] in Serum or Plasma",
             "mmol/L", "mmol/L", 1, None, 3.0),
        _lab("triglyceride", "14927-8", "Triglyceride [Moles/volume] in Serum or Plasma",
             "mmol/L", "mmol/L", 1, None, 1.7),
        _lab("sodium", "2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 0, 133, 146),
        _lab("potassium", "2823-3", "Potassium [Moles/volume] in Serum or Plasma",
             "mmol/L", "mmol/L", 1, 3.5, 5.3),
        _lab("urea", "22664-7", "Urea [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 1, 2.5, 7.8),
        _lab("creatinine", "14682-9", "Creatinine [Moles/volume] in Serum or Plasma",
             "umol/L", "umol/L", 0, 45, 110),
        _lab("egfr", "62238-1",
             "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood "
             "by Creatinine-based formula (CKD-EPI)",
             "mL/min/1.73m2", "mL/min/{1.73_m2}", 0, 60, None),
        _lab("haemoglobin", "718-7", "Hemoglobin [Mass/volume] in Blood", "g/L", "g/L", 0, 115, 170),
        _lab("wbc", "6690-2", "Leukocytes [#/volume] in Blood by Automated count",
             "10*9/L", "10*9/L", 1, 4.0, 11.0),
        _lab("platelets", "777-3", "Platelets [#/volume] in Blood by Automated count",
             "10*9/L", "10*9/L", 0, 150, 400),
        _lab("tsh", "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma",
             "mU/L", "m[IU]/L", 2, 0.27, 4.2),
        _lab("alt", "1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
             "U/L", "U/L", 0, None, 40),
        _lab("crp", "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma",
             "mg/L", "mg/L", 0, None, 5),
    )
}

PHQ9 = Measure(
    "phq9",
    loinc("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    "{score}",
    "{score}",
    0,
    "survey",
)
SMOKING_STATUS = loinc("72166-2", "Tobacco smoking status")


@dataclass(frozen=True, slots=True)
class Panel:
    """A laboratory request reported together as one DiagnosticReport."""

    key: str
    code: Code
    members: tuple[str, ...]  # LABS keys


PANELS: dict[str, Panel] = {
    p.key: p
    for p in (
        Panel(
            "fbc",
            loinc("58410-2", "CBC panel - Blood by Automated count"),
            ("haemoglobin", "wbc", "platelets"),
        ),
        Panel(
            "renal",
            loinc("24362-6", "Renal function 2000 panel - Serum or Plasma"),
            ("sodium", "potassium", "urea", "creatinine", "egfr"),
        ),
        Panel(
            "lipids",
            loinc("57698-3", "Lipid panel with direct LDL - Serum or Plasma"),
            ("cholesterol", "hdl", "ldl", "triglyceride"),
        ),
        Panel("hba1c", LABS["hba1c"].code, ("hba1c",)),
        Panel("tsh", LABS["tsh"].code, ("tsh",)),
        Panel("lft", loinc("24325-3", "Hepatic function 2000 panel - Serum or Plasma"), ("alt",)),
        Panel("crp", LABS["crp"].code, ("crp",)),
    )
}
