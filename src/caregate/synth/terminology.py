"""Code systems and the small value type the synthetic data uses for coded concepts.

Every coded element the generator writes is built from a :class:`Code`, so a concept's system, code
and display travel together and cannot drift apart between resources. System URIs are the canonical
ones from the FHIR R4 terminology pages (http://hl7.org/fhir/R4/terminologies-systems.html) and
UK Core (https://simplifier.net/hl7fhirukcorer4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
MARITAL_STATUS = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
PRACTITIONER_ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
COURSE_OF_THERAPY = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"

ODS_ORGANIZATION = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
SDS_USER = "https://fhir.nhs.uk/Id/sds-user-id"
GMC_NUMBER = "https://fhir.hl7.org.uk/Id/gmc-number"
NMC_NUMBER = "https://fhir.hl7.org.uk/Id/nmc-number"
ETHNIC_CATEGORY = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
ETHNIC_CATEGORY_EXT = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
NHS_VERIFICATION = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
NHS_VERIFICATION_EXT = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
"""Prefix of UK Core profile canonicals: UK_CORE + "Patient" is the UK Core Patient profile."""


def profile(name: str) -> dict[str, list[str]]:
    """A ``meta`` element claiming the UK Core profile ``name`` (e.g. "Encounter")."""
    return {"profile": [UK_CORE + name]}


@dataclass(frozen=True, slots=True)
class Code:
    """One concept from one code system, with the display text the system gives it."""

    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        """The concept as a FHIR ``Coding``."""
        return {"system": self.system, "code": self.code, "display": self.display}

    def concept(self, text: str | None = None) -> dict[str, Any]:
        """The concept as a FHIR ``CodeableConcept`` with ``text`` (default: the display)."""
        return {"coding": [self.coding()], "text": text or self.display}


def sct(code: str, display: str) -> Code:
    """A SNOMED CT concept (international core or UK edition, including dm+d)."""
    return Code(SNOMED, code, display)


def loinc(code: str, display: str) -> Code:
    """A LOINC observable."""
    return Code(LOINC, code, display)


def coded(system: str, code: str, display: str) -> dict[str, Any]:
    """A ``CodeableConcept`` holding one coding, for the small fixed HL7 code systems."""
    return {"coding": [{"system": system, "code": code, "display": display}]}


def quantity(
    value: float | int, unit: str, ucum: str | None = None, comparator: str | None = None
) -> dict[str, Any]:
    """A UCUM ``Quantity``: ``unit`` is the human-readable unit, ``ucum`` the UCUM code (default: unit).

    ``comparator`` ("<", ">", ...) marks a value reported beyond a limit, such as eGFR ">90".
    """
    result: dict[str, Any] = {"value": value}
    if comparator:
        result["comparator"] = comparator
    return result | {"unit": unit, "system": UCUM, "code": ucum or unit}


def reference(resource_type: str, resource_id: str, display: str | None = None) -> dict[str, str]:
    """A relative literal reference ("Patient/<id>"), resolvable on any server the data is loaded into."""
    ref = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        ref["display"] = display
    return ref
