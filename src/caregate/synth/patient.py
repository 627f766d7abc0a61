"""Synthetic people and their UK Core Patient resources.

A :class:`Person` holds the demographic facts chosen once for a patient; :func:`patient_resource`
renders them as a UK Core Patient (https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient): an
NHS number from the reserved 999 test range with the verification-status extension, the NHS England
ethnic category extension, official name, home address and contact details, and the registered GP
practice as ``generalPractitioner`` (UK Core points this at the practice Organization).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from caregate.fhir import nhs_number
from caregate.synth import names, places
from caregate.synth.directory import Practice
from caregate.synth.terminology import (
    ETHNIC_CATEGORY,
    ETHNIC_CATEGORY_EXT,
    MARITAL_STATUS,
    NHS_VERIFICATION,
    NHS_VERIFICATION_EXT,
    coded,
    profile,
    reference,
)
from caregate.synth.times import add_years, age_on, random_day

# Age bands (first age, last age, weight) loosely following the UK population pyramid.
_AGE_BANDS = ((0, 4, 6), (5, 17, 15), (18, 29, 15), (30, 44, 20), (45, 64, 25), (65, 79, 13), (80, 99, 6))
_MARITAL = {"M": "Married", "S": "Never Married", "D": "Divorced", "W": "Widowed"}
TEST_RANGE_CAPACITY = 900_000
"""Patients per data set: the 999 range holds about 909,000 valid numbers; keep sampling cheap."""


@dataclass(frozen=True, slots=True)
class Person:
    """Demographics of one synthetic patient."""

    sex: str  # FHIR administrative gender: "male" | "female"
    birth: date
    death: date | None
    given: tuple[str, ...]
    family: str
    ethnicity: tuple[str, str]  # NHS England ethnic category (code, display)
    nhs_number: str
    marital: str | None  # v3 MaritalStatus code, adults only
    address: dict[str, Any]
    phone: str
    mobile: str


def make_person(rng: random.Random, practice: Practice, now: date, used_numbers: set[str]) -> Person:
    """A person registered at ``practice``: alive on ``now``, or (if old) died in the last five years."""
    low, high, _ = rng.choices(_AGE_BANDS, weights=[band[2] for band in _AGE_BANDS])[0]
    birth = add_years(now, -rng.randint(low, high)) - timedelta(days=rng.randrange(1, 365))
    sex = rng.choice(("female", "male"))
    code, display, pool_key = names.pick_ethnicity(rng)
    pool = names.pool_for(pool_key, birth.year)
    given = tuple(names.given_names(rng, pool, sex))
    age = age_on(birth, now)
    death = None
    if age >= 70 and rng.random() < (age - 65) / 200:
        death = random_day(rng, max(add_years(now, -5), add_years(birth, 65)), now - timedelta(days=1))
    if len(used_numbers) >= TEST_RANGE_CAPACITY:
        raise ValueError("the NHS number test range cannot give every patient a unique number")
    while (number := nhs_number.test_number(rng)) in used_numbers:
        pass
    used_numbers.add(number)
    marital = None
    if age >= 18:
        weights = (0.5, 0.3, 0.12, 0.08) if age >= 40 else (0.35, 0.62, 0.03, 0.0)
        marital = rng.choices(("M", "S", "D", "W"), weights=weights)[0]
    return Person(
        sex=sex,
        birth=birth,
        death=death,
        given=given,
        family=rng.choice(pool.family),
        ethnicity=(code, display),
        nhs_number=number,
        marital=marital,
        address=places.address(rng, practice.town),
        phone=places.landline(rng, practice.town),
        mobile=places.mobile(rng),
    )


def _prefix(person: Person, day: date) -> list[str]:
    """Title as written on NHS correspondence; children are addressed without one."""
    if age_on(person.birth, day) < 18:
        return []
    if person.sex == "male":
        return ["Mr"]
    return ["Mrs"] if person.marital in ("M", "W") else ["Ms"]


def patient_resource(pid: str, person: Person, practice: Practice, as_of: date) -> dict[str, Any]:
    """The UK Core Patient for ``person``, registered with ``practice``, as recorded on ``as_of``."""
    name: dict[str, Any] = {"use": "official", "family": person.family, "given": list(person.given)}
    if prefix := _prefix(person, as_of):
        name["prefix"] = prefix
    telecom = [{"system": "phone", "value": person.phone, "use": "home"}]
    if age_on(person.birth, as_of) >= 16:
        local = ".".join(re.sub(r"[^a-z]", "", part.lower()) for part in (person.given[0], person.family))
        telecom += [
            {"system": "phone", "value": person.mobile, "use": "mobile"},
            {"system": "email", "value": f"{local}{person.nhs_number[-3:]}@example.com", "use": "home"},
        ]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "meta": profile("Patient"),
        "extension": [
            {"url": ETHNIC_CATEGORY_EXT, "valueCodeableConcept": coded(ETHNIC_CATEGORY, *person.ethnicity)}
        ],
        "identifier": [
            {
                "extension": [
                    {
                        "url": NHS_VERIFICATION_EXT,
                        "valueCodeableConcept": coded(NHS_VERIFICATION, "01", "Number present and verified"),
                    }
                ],
                "system": nhs_number.SYSTEM,
                "value": person.nhs_number,
            }
        ],
        "active": True,
        "name": [name],
        "telecom": telecom,
        "gender": person.sex,
        "birthDate": person.birth.isoformat(),
    }
    if person.death is not None:
        resource["deceasedDateTime"] = person.death.isoformat()
    resource["address"] = [person.address]
    if person.marital:
        resource["maritalStatus"] = coded(MARITAL_STATUS, person.marital, _MARITAL[person.marital])
    resource["generalPractitioner"] = [reference("Organization", practice.org_id, practice.name)]
    resource["managingOrganization"] = reference("Organization", practice.org_id, practice.name)
    return resource
