"""FHIR resources for the care directory: Organization, Location, Practitioner, PractitionerRole.

Shapes follow the UK Core profiles of the same names (https://simplifier.net/hl7fhirukcorer4):
organisations and sites carry ODS codes, practitioners carry their SDS user id and professional
registration (GMC number for doctors, NMC PIN for nurses), and a PractitionerRole ties a clinician to
the organisation and location they work at, with the role and specialty patient records rely on.
"""

from __future__ import annotations

import random
from typing import Any

from caregate.synth import clinical, names, places
from caregate.synth.places import Town
from caregate.synth.terminology import (
    GMC_NUMBER,
    LOCATION_PHYSICAL_TYPE,
    NMC_NUMBER,
    ODS_ORGANIZATION,
    ODS_SITE,
    ORGANIZATION_TYPE,
    PRACTITIONER_ROLE,
    ROLE_CODE,
    SDS_USER,
    Code,
    coded,
    profile,
    reference,
)

_LOCATION_TYPES = {
    "FMC": "Family Medicine clinic",
    "HOSP": "Hospital",
    "ER": "Emergency room",
    "HU": "Hospital unit",
}
_PHYSICAL_TYPES = {"bu": "Building", "wi": "Wing", "wa": "Ward"}
_SPECIALTIES: dict[str, tuple[Code, ...]] = {
    "gp": (clinical.GENERAL_PRACTICE,),
    "ed": (clinical.EMERGENCY_MEDICINE,),
    "physician": (clinical.GENERAL_MEDICINE,),
    "surgeon": (clinical.GENERAL_SURGERY, clinical.TRAUMA_ORTHOPAEDICS),
    "cardiologist": (clinical.CARDIOLOGY,),
    "obstetrician": (clinical.OBSTETRICS,),
}


def organization(org_id: str, ods: str, name: str, address: dict[str, Any], phone: str) -> dict[str, Any]:
    """A healthcare provider organisation identified by its ODS code."""
    return {
        "resourceType": "Organization",
        "id": org_id,
        "meta": profile("Organization"),
        "identifier": [{"system": ODS_ORGANIZATION, "value": ods}],
        "active": True,
        "type": [coded(ORGANIZATION_TYPE, "prov", "Healthcare Provider")],
        "name": name,
        "telecom": [{"system": "phone", "value": phone, "use": "work"}],
        "address": [address],
    }


def location(
    loc_id: str,
    ods_site: str | None,
    name: str,
    role: str,
    physical: str,
    address: dict[str, Any],
    phone: str,
    org_id: str,
    part_of: str | None = None,
) -> dict[str, Any]:
    """A physical place where care is given; departments point at their site with ``partOf``."""
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": loc_id,
        "meta": profile("Location"),
    }
    if ods_site:
        resource["identifier"] = [{"system": ODS_SITE, "value": ods_site}]
    resource |= {
        "status": "active",
        "name": name,
        "mode": "instance",
        "type": [coded(ROLE_CODE, role, _LOCATION_TYPES[role])],
        "telecom": [{"system": "phone", "value": phone, "use": "work"}],
        "address": address,
        "physicalType": coded(LOCATION_PHYSICAL_TYPE, physical, _PHYSICAL_TYPES[physical]),
        "managingOrganization": reference("Organization", org_id),
    }
    if part_of:
        resource["partOf"] = reference("Location", part_of)
    return resource


def _registration(rng: random.Random, kind: str) -> dict[str, str]:
    """A GMC number (seven digits) for doctors or an NMC PIN (e.g. "98A1234E") for nurses."""
    if kind == "nurse":
        pin = f"{rng.randrange(80, 100):02d}{rng.choice('ABCDEFGHIJKL')}{rng.randrange(10000):04d}"
        return {"system": NMC_NUMBER, "value": pin + rng.choice("EWSN")}
    return {"system": GMC_NUMBER, "value": f"{rng.randrange(3, 8)}{rng.randrange(10**6):06d}"}


def practitioner(rng: random.Random, pid: str, kind: str, sds_user_id: str) -> dict[str, Any]:
    """A clinician with an SDS user id and professional registration."""
    sex = rng.choice(("female", "male"))
    _, _, pool_key = names.pick_ethnicity(rng)
    pool = names.pool_for(pool_key, rng.randrange(1960, 2000))
    given = [rng.choice(pool.male if sex == "male" else pool.female)]
    family = rng.choice(pool.family)
    prefix = [] if kind == "nurse" else ["Dr"]
    name: dict[str, Any] = {"use": "official", "text": " ".join([*prefix, *given, family])}
    name |= {"family": family, "given": given}
    if prefix:
        name["prefix"] = prefix
    return {
        "resourceType": "Practitioner",
        "id": pid,
        "meta": profile("Practitioner"),
        "identifier": [{"system": SDS_USER, "value": sds_user_id}, _registration(rng, kind)],
        "active": True,
        "name": [name],
        "gender": sex,
    }


def practitioner_role(
    rng: random.Random, rid: str, pid: str, kind: str, org_id: str, location_id: str, town: Town
) -> dict[str, Any]:
    """The role a clinician holds at an organisation and location."""
    code = coded(PRACTITIONER_ROLE, "nurse", "Nurse") if kind == "nurse" else coded(
        PRACTITIONER_ROLE, "doctor", "Doctor"
    )
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": rid,
        "meta": profile("PractitionerRole"),
        "active": True,
        "practitioner": reference("Practitioner", pid),
        "organization": reference("Organization", org_id),
        "code": [code],
    }
    if kind in _SPECIALTIES:
        resource["specialty"] = [specialty.concept() for specialty in _SPECIALTIES[kind]]
    resource["location"] = [reference("Location", location_id)]
    resource["telecom"] = [{"system": "phone", "value": places.landline(rng, town), "use": "work"}]
    return resource
