"""Towns, addresses, postcodes and telephone numbers for synthetic UK records.

Towns are real English and Welsh cities with real postcode districts (the outward code, "LS6"); the
inward code ("4AP") is random but well formed: a digit and two letters from the 20 the Royal Mail
uses there (never C, I, K, M, O or V). Full postcodes therefore look right and validate against
the UK postcode pattern, but are not taken from any real address list.

Telephone numbers come only from the ranges Ofcom reserves for drama and fiction (the 496/498 and
7946 blocks of each geographic area code, and 07700 900xxx for mobiles), so no generated number can
ring a real line. Scotland and Northern Ireland are left out because their GP practices are not
identified with English-style ODS codes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(frozen=True, slots=True)
class Town:
    """A town with its county, postcode districts, ODS prefix for its practices and phone block."""

    name: str
    county: str
    districts: tuple[str, ...]  # postcode outward codes
    areas: tuple[str, ...]  # neighbourhoods, for addresses and practice names
    gp_prefix: str  # first three characters of the area's GP practice ODS codes
    phone: str  # drama-range number prefix: four digits follow


TOWNS: tuple[Town, ...] = (
    Town(
        "Leeds",
        "West Yorkshire",
        ("LS1", "LS2", "LS4", "LS6", "LS7", "LS8", "LS9", "LS11", "LS12", "LS16"),
        ("Headingley", "Chapel Allerton", "Armley", "Roundhay", "Kirkstall", "Beeston"),
        "B86",
        "0113 496 0",
    ),
    Town(
        "Sheffield",
        "South Yorkshire",
        ("S1", "S2", "S6", "S7", "S8", "S10", "S11", "S13"),
        ("Crookes", "Hillsborough", "Heeley", "Walkley", "Ecclesall", "Handsworth"),
        "C88",
        "0114 496 0",
    ),
    Town(
        "Nottingham",
        "Nottinghamshire",
        ("NG1", "NG2", "NG3", "NG5", "NG7", "NG8", "NG9"),
        ("Sherwood", "Lenton", "Bulwell", "Sneinton", "Radford", "Clifton"),
        "C84",
        "0115 496 0",
    ),
    Town(
        "Leicester",
        "Leicestershire",
        ("LE1", "LE2", "LE3", "LE4", "LE5"),
        ("Belgrave", "Aylestone", "Evington", "Knighton", "Beaumont Leys", "Highfields"),
        "C82",
        "0116 496 0",
    ),
    Town(
        "Bristol",
        "City of Bristol",
        ("BS1", "BS2", "BS3", "BS4", "BS5", "BS6", "BS7", "BS8", "BS16"),
        ("Bedminster", "Clifton", "Easton", "Bishopston", "Southmead", "Fishponds"),
        "L81",
        "0117 496 0",
    ),
    Town(
        "Reading",
        "Berkshire",
        ("RG1", "RG2", "RG4", "RG6", "RG30", "RG31"),
        ("Caversham", "Whitley", "Tilehurst", "Earley", "Southcote", "Emmer Green"),
        "K81",
        "0118 496 0",
    ),
    Town(
        "Birmingham",
        "West Midlands",
        ("B5", "B6", "B11", "B13", "B14", "B15", "B17", "B23", "B29", "B44"),
        ("Moseley", "Erdington", "Sparkhill", "Harborne", "Kings Heath", "Selly Oak"),
        "M85",
        "0121 496 0",
    ),
    Town(
        "Liverpool",
        "Merseyside",
        ("L1", "L4", "L6", "L8", "L11", "L15", "L17", "L18", "L25"),
        ("Anfield", "Toxteth", "Wavertree", "Aigburth", "Allerton", "Woolton"),
        "N82",
        "0151 496 0",
    ),
    Town(
        "Manchester",
        "Greater Manchester",
        ("M4", "M8", "M13", "M14", "M16", "M20", "M21", "M40"),
        ("Didsbury", "Chorlton", "Levenshulme", "Ancoats", "Fallowfield", "Moss Side"),
        "P84",
        "0161 496 0",
    ),
    Town(
        "London",
        "Greater London",
        ("E1", "E3", "E8", "N1", "N7", "N16", "SE5", "SE15", "SW2", "SW9", "NW5"),
        ("Hackney", "Islington", "Brixton", "Peckham", "Stoke Newington", "Kentish Town"),
        "F84",
        "020 7946 0",
    ),
    Town(
        "Newcastle upon Tyne",
        "Tyne and Wear",
        ("NE1", "NE2", "NE3", "NE4", "NE5", "NE6", "NE15"),
        ("Jesmond", "Heaton", "Gosforth", "Fenham", "Byker", "Benwell"),
        "A86",
        "0191 498 0",
    ),
    Town(
        "Cardiff",
        "South Glamorgan",
        ("CF5", "CF10", "CF11", "CF14", "CF23", "CF24"),
        ("Canton", "Roath", "Cathays", "Llandaff", "Splott", "Whitchurch"),
        "W97",
        "029 2018 0",
    ),
)

STREETS: tuple[str, ...] = (
    "Church Street", "Station Road", "Victoria Road", "Park Avenue", "Mill Lane", "Queen Street",
    "Albert Road", "Manor Road", "Grove Road", "High Street", "King Street", "York Road",
    "Springfield Road", "Clarence Street", "Chapel Lane", "Westfield Road", "Highfield Road",
    "North Street", "Alexandra Road", "Beech Grove", "Willow Crescent", "Ash Drive", "Cedar Avenue",
    "Meadow Way", "Orchard Close", "The Green", "Hawthorn Road", "Windsor Road", "Elm Street",
    "Oakfield Terrace",
)


def postcode(rng: random.Random, town: Town) -> str:
    """A well-formed postcode in one of ``town``'s districts, e.g. "LS6 4AP"."""
    letters = rng.choice(INWARD_LETTERS) + rng.choice(INWARD_LETTERS)
    return f"{rng.choice(town.districts)} {rng.randrange(10)}{letters}"


def landline(rng: random.Random, town: Town) -> str:
    """A fictional landline in ``town``'s drama-reserved block."""
    return f"{town.phone}{rng.randrange(1000):03d}"


def mobile(rng: random.Random) -> str:
    """A fictional mobile number from Ofcom's drama range 07700 900000-900999."""
    return f"07700 900{rng.randrange(1000):03d}"


def address(rng: random.Random, town: Town, use: str = "home", street: str | None = None) -> dict[str, Any]:
    """A FHIR ``Address`` in ``town`` (UK Core: lines, city, district as county, postalCode)."""
    line = f"{rng.randrange(1, 180)} {street or rng.choice(STREETS)}"
    return {
        "use": use,
        "type": "both",
        "line": [line, rng.choice(town.areas)],
        "city": town.name,
        "district": town.county,
        "postalCode": postcode(rng, town),
        "country": "GB",
    }
