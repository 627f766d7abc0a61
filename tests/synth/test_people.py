"""Patients and staff look like a UK register: test-range NHS numbers, well-formed postcodes,
fictional phone numbers, ODS-coded organisations and SDS-identified clinicians."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from caregate.fhir import nhs_number
from caregate.synth import generate
from caregate.synth.terminology import GMC_NUMBER, NMC_NUMBER, ODS_ORGANIZATION, SDS_USER

# The UK postcode format: outward code (area, district) and inward code (sector digit, unit letters).
POSTCODE = re.compile(r"^(GIR 0AA|[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKMNPR-Y]? [0-9][ABD-HJLNP-UW-Z]{2})$")
# Ofcom numbers reserved for drama: 01632 960xxx, area-code 496 blocks, 020 7946 0xxx, 07700 900xxx...
DRAMA_NUMBER = re.compile(r"^(0\d{3} 49[68] 0\d{3}|020 7946 0\d{3}|029 2018 0\d{3}|07700 900\d{3})$")
GP_PRACTICE = re.compile(r"^[A-Y]\d{5}$")
NHS_TRUST = re.compile(r"^R[A-Z0-9]{2}$")


@lru_cache(maxsize=1)
def sample() -> tuple[dict[str, Any], ...]:
    return tuple(entry["resource"] for bundle in generate(40, seed=17) for entry in bundle["entry"])


def of_type(resource_type: str) -> list[dict[str, Any]]:
    return [r for r in sample() if r["resourceType"] == resource_type]


def test_patients_have_unique_valid_test_range_nhs_numbers() -> None:
    numbers = []
    for patient in of_type("Patient"):
        assert patient["meta"]["profile"] == ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]
        (identifier,) = [i for i in patient["identifier"] if i["system"] == nhs_number.SYSTEM]
        assert nhs_number.is_test_number(identifier["value"])
        status = identifier["extension"][0]["valueCodeableConcept"]["coding"][0]
        assert status["code"] == "01"
        numbers.append(identifier["value"])
    assert len(numbers) == 40 == len(set(numbers))


def test_addresses_have_uk_postcodes() -> None:
    postcodes = [a["postalCode"] for r in sample() for a in _addresses(r)]
    assert len(postcodes) > 40
    assert [p for p in postcodes if not POSTCODE.match(p)] == []


def _addresses(resource: dict[str, Any]) -> list[dict[str, Any]]:
    address = resource.get("address", [])
    return address if isinstance(address, list) else [address]


def test_phone_numbers_are_from_ofcom_drama_ranges() -> None:
    phones = [t["value"] for r in sample() for t in r.get("telecom", []) if t["system"] == "phone"]
    assert len(phones) > 40
    assert [p for p in phones if not DRAMA_NUMBER.match(p)] == []


def test_patient_demographics_are_complete() -> None:
    for patient in of_type("Patient"):
        name = patient["name"][0]
        assert name["use"] == "official" and name["family"] and name["given"]
        assert patient["gender"] in ("male", "female")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", patient["birthDate"])
        if "deceasedDateTime" in patient:
            assert patient["deceasedDateTime"] > patient["birthDate"]
        ethnicity = patient["extension"][0]["valueCodeableConcept"]["coding"][0]
        assert ethnicity["system"].endswith("UKCore-EthnicCategoryEngland")
        (gp,) = patient["generalPractitioner"]
        assert gp["reference"].startswith("Organization/")


def test_organisations_have_ods_codes() -> None:
    practices = {p["generalPractitioner"][0]["reference"].split("/")[1] for p in of_type("Patient")}
    codes = {}
    for org in of_type("Organization"):
        (ods,) = [i["value"] for i in org["identifier"] if i["system"] == ODS_ORGANIZATION]
        assert GP_PRACTICE.match(ods) or NHS_TRUST.match(ods), ods
        codes[org["id"]] = ods
    assert all(GP_PRACTICE.match(codes[org_id]) for org_id in practices)
    assert any(NHS_TRUST.match(ods) for ods in codes.values())
    assert len(set(codes.values())) == len(codes)


def test_practitioners_have_sds_ids_and_registration() -> None:
    people = of_type("Practitioner")
    assert people
    for person in people:
        systems = {i["system"]: i["value"] for i in person["identifier"]}
        assert re.fullmatch(r"\d{12}", systems[SDS_USER])
        if "prefix" in person["name"][0]:
            assert re.fullmatch(r"\d{7}", systems[GMC_NUMBER])
        else:
            assert re.fullmatch(r"\d{2}[A-L]\d{4}[EWSN]", systems[NMC_NUMBER])
    roles = of_type("PractitionerRole")
    assert {r["practitioner"]["reference"] for r in roles} == {f"Practitioner/{p['id']}" for p in people}
