"""The shared care directory: GP practices, hospital trusts, their sites and their staff.

Every patient bundle points into this directory (registered practice, treating clinicians, hospital
wards), so it is generated first and loaded as its own transaction. Organisations are identified by
ODS codes in the formats NHS England's Organisation Data Service uses (a GP practice is a letter and
five digits such as "B86001"; an NHS trust is "R" and two characters, its sites the trust code and
two digits), clinicians by SDS user ids plus their GMC or NMC registration. The values are synthetic:
they are well formed but are not looked up, so any resemblance to a real organisation is chance.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caregate.synth import places
from caregate.synth.directory_resources import location, organization, practitioner, practitioner_role
from caregate.synth.ids import IdFactory
from caregate.synth.places import Town

GP, NURSE, ED, PHYSICIAN, SURGEON, CARDIOLOGIST, OBSTETRICIAN = (
    "gp", "nurse", "ed", "physician", "surgeon", "cardiologist", "obstetrician"
)


@dataclass(frozen=True, slots=True)
class Staff:
    """A clinician as patient records refer to them."""

    practitioner_id: str
    name: str  # display text for references
    kind: str


@dataclass(frozen=True, slots=True)
class Practice:
    """A GP practice: its organisation, premises and clinical staff."""

    org_id: str
    location_id: str
    name: str
    town: Town
    gps: tuple[Staff, ...]
    nurses: tuple[Staff, ...]


@dataclass(frozen=True, slots=True)
class Hospital:
    """An acute trust's main hospital with its emergency department and inpatient wards."""

    org_id: str
    name: str
    town: Town
    site_id: str
    emergency_id: str
    ward_id: str
    staff: tuple[Staff, ...]

    def of_kind(self, kind: str) -> tuple[Staff, ...]:
        """The hospital's clinicians of ``kind`` (never empty for the kinds it employs)."""
        return tuple(member for member in self.staff if member.kind == kind)


@dataclass(frozen=True, slots=True)
class Directory:
    """Everything patient records may reference, plus the FHIR resources that describe it."""

    practices: tuple[Practice, ...]
    hospitals: tuple[Hospital, ...]
    resources: tuple[dict[str, Any], ...]

    def hospital_for(self, town: Town) -> Hospital:
        """The hospital serving ``town`` (every town with a practice has one)."""
        return next(hospital for hospital in self.hospitals if hospital.town == town)


class _Builder:
    """Accumulates directory resources while handing out unique ids and codes."""

    def __init__(self, rng: random.Random, ids: IdFactory) -> None:
        self.rng = rng
        self.ids = ids
        self.orgs: list[dict[str, Any]] = []
        self.locations: list[dict[str, Any]] = []
        self.people: list[dict[str, Any]] = []
        self.roles: list[dict[str, Any]] = []
        self.codes: set[str] = set()
        self.serial = 0

    def unique(self, make: Callable[[], str]) -> str:
        """Call ``make`` until it returns a code not used before in this directory."""
        while (code := make()) in self.codes:
            pass
        self.codes.add(code)
        return code

    def staff(self, kind: str, org_id: str, location_id: str, town: Town) -> Staff:
        """A new clinician of ``kind`` with a Practitioner and a PractitionerRole at the organisation."""
        n = self.serial
        self.serial += 1
        pid, rid = self.ids.make(f"practitioner/{n}"), self.ids.make(f"role/{n}")
        sds_user_id = self.unique(lambda: str(self.rng.randrange(10**11, 10**12)))
        resource = practitioner(self.rng, pid, kind, sds_user_id)
        self.people.append(resource)
        self.roles.append(practitioner_role(self.rng, rid, pid, kind, org_id, location_id, town))
        return Staff(pid, resource["name"][0]["text"], kind)

    def practice(self, n: int, town: Town) -> Practice:
        """GP practice ``n`` in ``town``: organisation, surgery premises, two to five GPs and nurses."""
        ods = self.unique(lambda: f"{town.gp_prefix}{self.rng.randrange(1, 1000):03d}")
        style = self.rng.choice(("{} Surgery", "{} Medical Centre", "{} Health Centre", "The {} Practice"))
        name = style.format(self.rng.choice(town.areas))
        org_id, loc_id = self.ids.make(f"practice/{n}"), self.ids.make(f"practice/{n}/site")
        address = places.address(self.rng, town, use="work")
        phone = places.landline(self.rng, town)
        self.orgs.append(organization(org_id, ods, name, address, phone))
        self.locations.append(location(loc_id, ods, name, "FMC", "bu", address, phone, org_id))
        gps = tuple(self.staff(GP, org_id, loc_id, town) for _ in range(self.rng.randint(2, 5)))
        nurses = tuple(self.staff(NURSE, org_id, loc_id, town) for _ in range(self.rng.randint(1, 2)))
        return Practice(org_id, loc_id, name, town, gps, nurses)

    def hospital(self, n: int, town: Town) -> Hospital:
        """The acute trust serving ``town``: main site, emergency department, wards and staff."""
        chars = "ABCDEFGHJKLMNPQRTVWXY0123456789"
        ods = self.unique(lambda: "R" + self.rng.choice(chars[:21]) + self.rng.choice(chars))
        name = f"{town.name} {self.rng.choice(('General Hospital', 'Royal Infirmary', 'City Hospital'))}"
        trust = f"{town.name} and District Hospitals NHS Trust"
        org_id = self.ids.make(f"trust/{n}")
        site, emergency, ward = (self.ids.make(f"trust/{n}/{part}") for part in ("site", "ed", "ward"))
        address = places.address(self.rng, town, use="work")
        phone = places.landline(self.rng, town)
        self.orgs.append(organization(org_id, ods, trust, address, phone))
        departments = ((emergency, "Emergency Department", "ER", "wi"), (ward, "Inpatient Wards", "HU", "wa"))
        self.locations.append(location(site, f"{ods}01", name, "HOSP", "bu", address, phone, org_id))
        for loc_id, label, role, physical in departments:
            self.locations.append(
                location(loc_id, None, f"{name} {label}", role, physical, address, phone, org_id, site)
            )
        counts = ((ED, 3), (PHYSICIAN, 3), (SURGEON, 2), (CARDIOLOGIST, 1), (OBSTETRICIAN, 1), (NURSE, 3))
        staff = tuple(
            self.staff(kind, org_id, emergency if kind == ED else ward, town)
            for kind, count in counts
            for _ in range(count)
        )
        return Hospital(org_id, name, town, site, emergency, ward, staff)


def build_directory(patients: int, seed: int) -> Directory:
    """The directory for a data set of ``patients`` patients: about one practice per 40 patients."""
    rng = random.Random(f"caregate-synth:{seed}:directory")
    builder = _Builder(rng, IdFactory(seed))
    practice_count = max(2, min(60, (patients + 39) // 40))
    towns = rng.sample(places.TOWNS, k=min(len(places.TOWNS), (practice_count + 1) // 2))
    hospitals = tuple(builder.hospital(n, town) for n, town in enumerate(towns))
    practices = tuple(builder.practice(n, towns[n % len(towns)]) for n in range(practice_count))
    # Dependency order, so that even a store that resolves references entry by entry accepts the bundle.
    resources = (*builder.orgs, *builder.locations, *builder.people, *builder.roles)
    return Directory(practices, hospitals, resources)

