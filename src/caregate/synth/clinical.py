"""SNOMED CT concepts for encounters, procedures, allergies and other coded facts.

Codes are real SNOMED CT concept ids with their preferred terms (international release, as used by
the UK edition). Keeping them in one module makes them easy to review against a terminology browser
and lets the test suite check every id's Verhoeff check digit (SNOMED CT Technical Implementation
Guide, section 6.7 "Check digit").
"""

from __future__ import annotations

from dataclasses import dataclass

from caregate.synth.terminology import Code, sct

# Encounter types (Encounter.type); the HL7 v3 ActCode class goes in Encounter.class.
CHECK_UP = sct("185349003", "Encounter for check up")
PROBLEM = sct("185347001", "Encounter for problem")
FOLLOW_UP = sct("390906007", "Follow-up encounter")
WELL_CHILD = sct("410620009", "Well child visit")
VACCINATION = sct("33879002", "Administration of vaccine to produce active immunity")
TELEPHONE = sct("185317003", "Telephone encounter")
EMERGENCY = sct("50849002", "Emergency room admission")
EMERGENCY_ADMISSION = sct("183452005", "Emergency hospital admission")
ELECTIVE_ADMISSION = sct("305408004", "Admission to surgical department")
HOSPITAL_ADMISSION = sct("32485007", "Hospital admission")
PRENATAL = sct("424441002", "Prenatal initial visit")

# Procedures.
MEDICATION_REVIEW = sct("430193006", "Medication reconciliation")
CARE_NEEDS_ASSESSMENT = sct("710824005", "Assessment of health and social care needs")
DEPRESSION_SCREENING = sct("171207006", "Depression screening")
ECG = sct("29303009", "Electrocardiographic procedure")
CHEST_XRAY = sct("399208008", "Plain chest X-ray")
RADIOGRAPHY = sct("363680008", "Radiographic imaging procedure")
SPIROMETRY = sct("127783003", "Spirometry")
ECHOCARDIOGRAPHY = sct("40701008", "Echocardiography")
SUTURE = sct("288086009", "Suture open wound")
IMMOBILISATION = sct("274474001", "Bone immobilization")
ULTRASOUND = sct("16310003", "Diagnostic ultrasonography")
APPENDICECTOMY = sct("80146002", "Appendectomy")
KNEE_REPLACEMENT = sct("609588000", "Total knee replacement")
HIP_REPLACEMENT = sct("52734007", "Total replacement of hip")
PCI = sct("415070008", "Percutaneous coronary intervention")
CAESAREAN = sct("11466000", "Cesarean section")
NORMAL_DELIVERY = sct("177184002", "Normal delivery procedure")
COLONOSCOPY = sct("73761001", "Colonoscopy")
MAMMOGRAPHY = sct("71651007", "Mammography")
CERVICAL_SCREENING = sct("171149006", "Screening for malignant neoplasm of cervix")
PREGNANCY_TEST = sct("252160004", "Standard pregnancy test")
THROAT_CULTURE = sct("117015009", "Throat culture")

# Social history (values of LOINC 72166-2 Tobacco smoking status).
NEVER_SMOKED = sct("266919005", "Never smoked tobacco")
EX_SMOKER = sct("8517006", "Ex-smoker")
SMOKER = sct("77176002", "Smoker")

# Pregnancy and birth.
NORMAL_PREGNANCY = sct("72892002", "Normal pregnancy")

# Routes and body sites (Immunization.route / .site, dosage routes).
ORAL = sct("26643006", "Oral route")
INTRAMUSCULAR = sct("78421000", "Intramuscular route")
NASAL = sct("46713006", "Nasal route")
RESPIRATORY = sct("447694001", "Respiratory tract route")
LEFT_UPPER_ARM = sct("368208006", "Left upper arm structure")
RIGHT_UPPER_ARM = sct("368209003", "Right upper arm structure")

# Occupations and specialties for PractitionerRole.
GENERAL_PRACTICE = sct("394814009", "General practice")
EMERGENCY_MEDICINE = sct("773568002", "Emergency medicine")
GENERAL_MEDICINE = sct("394802001", "General medicine")
CARDIOLOGY = sct("394579002", "Cardiology")
TRAUMA_ORTHOPAEDICS = sct("394801008", "Trauma & orthopaedics")
OBSTETRICS = sct("394585009", "Obstetrics and gynecology")
GENERAL_SURGERY = sct("394609007", "General surgery")


@dataclass(frozen=True, slots=True)
class Allergy:
    """An allergy a patient may carry, with its FHIR category and the reactions it tends to cause."""

    code: Code
    category: str  # AllergyIntolerance.category: food | medication | environment | biologic
    reactions: tuple[Code, ...]
    weight: float


RASH = sct("271807003", "Eruption of skin")
HIVES = sct("247472004", "Wheal")
ANAPHYLAXIS = sct("39579001", "Anaphylaxis")
DYSPNOEA = sct("267036007", "Dyspnea")
ITCHING = sct("418290006", "Itching of skin")
SNEEZING = sct("76067001", "Sneezing")
RHINOCONJUNCTIVITIS = sct("878820003", "Rhinoconjunctivitis")
NAUSEA = sct("422587007", "Nausea")

ALLERGIES: tuple[Allergy, ...] = (
    Allergy(sct("91936005", "Allergy to penicillin"), "medication", (RASH, HIVES, ANAPHYLAXIS), 5.0),
    Allergy(sct("91935009", "Allergy to peanuts"), "food", (HIVES, ANAPHYLAXIS, ITCHING), 2.0),
    Allergy(sct("91934008", "Allergy to nut"), "food", (HIVES, ITCHING, NAUSEA), 1.5),
    Allergy(sct("300913006", "Shellfish allergy"), "food", (HIVES, NAUSEA), 1.0),
    Allergy(sct("91930004", "Allergy to eggs"), "food", (RASH, NAUSEA), 1.0),
    Allergy(sct("425525006", "Allergy to dairy product"), "food", (NAUSEA, RASH), 1.0),
    Allergy(sct("418689008", "Allergy to grass pollen"), "environment", (SNEEZING, RHINOCONJUNCTIVITIS), 4.0),
    Allergy(sct("232350006", "House dust mite allergy"), "environment", (SNEEZING, DYSPNOEA), 3.0),
    Allergy(sct("232347008", "Dander (animal) allergy"), "environment", (SNEEZING, ITCHING), 2.0),
    Allergy(sct("419474003", "Allergy to mould"), "environment", (SNEEZING, DYSPNOEA), 1.0),
    Allergy(sct("300916003", "Latex allergy"), "environment", (RASH, ITCHING), 0.5),
)


def all_snomed_codes() -> list[Code]:
    """Every SNOMED CT concept this module defines, for terminology checks in tests."""
    codes = [value for value in globals().values() if isinstance(value, Code)]
    for allergy in ALLERGIES:
        codes.append(allergy.code)
        codes.extend(allergy.reactions)
    return codes
