"""In-memory matching agrees with SQL search: the same queries, run both ways over the same stored data.

`caregate.search.match` promises the answer the store would give (https://hl7.org/fhir/R4/search.html), so
this test stores a data set - synthetic patient records when `caregate.synth` is importable, plus handcrafted
edge cases (accents, LIKE wildcards, identifiers with and without systems, dates of every precision and zone,
open periods, quantities by code and by unit, versioned and absolute references, ids shared across types) -
then compares, for every query, the ids the SQL returns with the ids `match` accepts. Every query must find
something, so no comparison passes vacuously. Queries the SQL once got wrong are kept below, each asserted
both ways against the specification's answer.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from caregate.clock import FixedClock
from caregate.errors import FhirError
from caregate.search.match import Indexed, compile_matcher, match
from caregate.search.query import SearchQuery, parse
from caregate.search.registry import default_registry
from caregate.storage import ResourceStore, Write, open_store

pytestmark = pytest.mark.anyio

BASE = "http://localhost:8080/fhir"
START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)  # whole seconds: `lu` and meta.lastUpdated agree exactly
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
TAGS = "http://example.org/tags"
PROFILE = "http://example.org/fhir/StructureDefinition/patient-a"
VS = "http://example.org/fhir/ValueSet"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
XHTML = "http://www.w3.org/1999/xhtml"
Key = tuple[str, str]


# --------------------------------------------------------------------------------------------- data


def _birth_date(rng: random.Random, i: int) -> str | None:
    """Year, month and day precision (search.html#date: the precision implies a range), some on 1980-05-17."""
    if i % 7 == 6:
        return None
    year = 1980 if i % 4 < 2 else rng.randint(1950, 2010)
    month, day = (5, 17) if i % 2 == 0 else (rng.randint(1, 12), rng.randint(1, 28))
    return [f"{year}", f"{year}-{month:02d}", f"{year}-{month:02d}-{day:02d}"][i % 3]


def _patient(rng: random.Random, i: int) -> dict[str, Any]:
    families = ["Müller", "Muller", "Millar", "Smith-Jones", "O'Brien", "Ångström", "Núñez", "Under_score",
                "Hundred%", "ÉMILE", "Øster", "van der Berg"]
    givens = ["José", "Jose", "Zoë", "Zoe", "Ana María", "Émile", "Ólafur", "Chloé", "Li", "JOSEPHINE"]
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": f"p{i}",
        "name": [{"family": families[i % len(families)], "given": [givens[i % len(givens)]]}],
        "gender": rng.choice(["male", "female", "other", "unknown"]),
        "address": [{"city": rng.choice(["São Paulo", "Reading", "Zürich", "reading"])}],
        "managingOrganization": {"reference": f"Organization/o{i % 2}"},
    }
    identifiers = [{"system": "urn:oid:1.2.3", "value": f"A{i % 5}"}, {"value": f"A{i % 4}"},
                   {"system": "urn:oid:9.9", "value": f"B{i}"},
                   {"system": "urn:oid:5.5", "value": f"MRN{i % 3}", "type": {
                       "coding": [{"system": V2_0203, "code": rng.choice(["MR", "PI"])}], "text": "Medical record"}}]
    patient["identifier"] = rng.sample(identifiers, rng.randint(0, 3))
    if i % 4 == 1:
        name, city = patient["name"][0], patient["address"][0]["city"]
        patient["text"] = {"status": "generated", "div": f'<div xmlns="{XHTML}"><p>{name["given"][0]} '
                                                         f'<b>{name["family"]}</b> of {city}</p></div>'}
    if (birth := _birth_date(rng, i)) is not None:
        patient["birthDate"] = birth
    if i % 5 == 1:
        patient["deceasedDateTime"] = rng.choice(["2020-02-29T23:30:00+05:30", "2020-03-01T00:00:00Z",
                                                  "2020-02-29T18:00:00.250-04:00", "2020"])
    if i % 3 != 2:
        patient["active"] = i % 2 == 0
    meta: dict[str, Any] = {}
    if i % 4 == 0:
        meta["tag"] = [{"system": TAGS, "code": "vip"} if i % 8 == 0 else {"code": "vip"}]
    if i % 3 == 0:
        meta["profile"] = [PROFILE if i % 2 else PROFILE + "/v2"]
    if meta:
        patient["meta"] = meta
    return patient


_CODES = [(LOINC, "29463-7", "Body weight"), (LOINC, "8867-4", "Heart rate"), (None, "local-1", "Local thing"),
          ("http://snomed.info/sct", "271649006", "Systolic BLOOD pressure"), (LOINC, "8302-2", "ÉCG Größe")]
_WHEN = ["2021", "2021-03", "2021-03-04", "2021-03-04T10:00:00Z", "2021-03-04T10:00:00+02:00",
         "2021-03-04T10:00:00.123-05:00", "2021-03-04T23:59:59.999Z", "2019-12-31T23:00:00-01:00", "2022-07"]


def _effective(rng: random.Random, i: int) -> tuple[str, Any]:
    """dateTime at every precision and zone, and Periods closed and open at either end (search.html#date)."""
    kind = i % 5
    if kind == 3:
        return "effectivePeriod", rng.choice([{"start": "2021-03-04T09:00:00Z", "end": "2021-03-04T11:00:00Z"},
                                              {"start": "2023-01-01"}, {"end": "2020-06"}])
    if kind == 4:
        return "effectiveInstant", f"2021-03-04T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00.5Z"
    return "effectiveDateTime", rng.choice(_WHEN)


def _subject(rng: random.Random, i: int) -> dict[str, Any] | None:
    """Relative, versioned, absolute (this server and another) references, and ids shared across types."""
    return rng.choice([
        {"reference": f"Patient/p{i % 12}"}, {"reference": "Patient/p1/_history/1"},
        {"reference": f"{BASE}/Patient/p2"}, {"reference": "http://other.example/fhir/Patient/p9"},
        {"reference": "Patient/dup"}, {"reference": "Location/dup"}, {"reference": "Group/dup"},
        {"display": "no reference"}, None, {"identifier": {"system": NHS, "value": "9990000018"}},
        {"reference": "Patient/p3", "identifier": {"system": NHS, "value": "9990000026"}},
    ])


def _quantity(rng: random.Random) -> dict[str, Any]:
    """Quantities in commensurable UCUM units (kg, g, mg), with only a unit, without units, and values at
    several precisions (search.html#quantity)."""
    value = rng.choice([4.7, 5, 5.0, 100, 0.5, 99.5, 4700, round(rng.uniform(0, 200), rng.choice([0, 1, 2]))])
    return rng.choice([{"value": value, "unit": "kg", "system": UCUM, "code": "kg"}, {"value": value, "unit": "mg"},
                       {"value": value, "system": UCUM, "code": "g"}, {"value": value, "system": UCUM, "code": "mg"},
                       {"value": value, "system": UCUM, "code": "mmol/L"}, {"value": value}])


def _observation(rng: random.Random, i: int) -> dict[str, Any]:
    system, code, display = _CODES[i % len(_CODES)]
    coding = {"code": code, "display": display} | ({"system": system} if system else {})
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"ob{i}",
        "status": rng.choice(["final", "amended", "preliminary", "cancelled"]),
        "code": {"coding": [coding]} | ({"text": display} if i % 2 else {}),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": rng.choice(["vital-signs", "laboratory"])}]}],
    }
    if (subject := _subject(rng, i)) is not None:
        obs["subject"] = subject
    key, when = _effective(rng, i)
    obs[key] = when
    if i % 6 != 5:
        obs["valueQuantity"] = _quantity(rng)
    else:
        obs["valueString"] = "not a number"
    return obs


def _risk(rng: random.Random, i: int) -> dict[str, Any]:
    """RiskAssessment.prediction.probability: decimals of several precisions and (open) Ranges (search.html#number)."""
    decimals = [0.5, 0.75, 0.2, 0.333, 0.501, 1, 0.05]
    probability = rng.choice([*({"probabilityDecimal": d} for d in decimals),
                              {"probabilityRange": {"low": {"value": 0.2}, "high": {"value": 0.4}}},
                              {"probabilityRange": {"low": {"value": 0.6}}}])
    return {"resourceType": "RiskAssessment", "id": f"ra{i}", "status": "final",
            "subject": {"reference": f"Patient/p{i % 12}"}, "prediction": [probability]}


def handcrafted(seed: int = 20250102) -> list[dict[str, Any]]:
    """The edge-case data set, deterministic for a seed."""
    rng = random.Random(seed)
    resources: list[dict[str, Any]] = [
        {"resourceType": "Organization", "id": "o0", "name": "Hôpital Saint-Éloi"},
        {"resourceType": "Organization", "id": "o1", "name": "Reading Clinic"},
        {"resourceType": "Patient", "id": "dup", "name": [{"family": "Zebulon"}], "gender": "male"},
        {"resourceType": "Location", "id": "dup", "name": "Elsewhere"},
        {"resourceType": "Group", "id": "dup", "type": "person", "actual": True},
    ]
    resources += [_patient(rng, i) for i in range(30)]
    resources += [_observation(rng, i) for i in range(90)]
    resources += [_risk(rng, i) for i in range(24)]
    urls = [f"{VS}/base", f"{VS}/base/child", f"{VS}/base/child/grandchild", f"{VS}/basement", "urn:oid:1.2",
            "http://other.org/vs"]
    resources += [{"resourceType": "ValueSet", "id": f"vs{i}", "url": u, "status": "active"}
                  for i, u in enumerate(urls)]
    lists = {"l1": ["Patient/p1", "Patient/p5", "Observation/ob3"],
             "l2": ["Patient/p2", "Observation/ob4", "Observation/ob5", "Patient/gone"]}
    resources += [{"resourceType": "List", "id": lid, "status": "current", "mode": "working",
                   "entry": [{"item": {"reference": ref}} for ref in refs]} for lid, refs in lists.items()]
    resources += [_with_contained(rng, i) for i in range(16)]
    return resources


def _with_contained(rng: random.Random, i: int) -> dict[str, Any]:
    """Observations holding contained Patients (search.html#contained): referred to locally or not at all,
    ids repeated across containers, some without an id, and Patients `dup` beside the stored Patient/dup."""
    family = ["Müller", "Contained", "Quennell", "Smith-Jones"][i % 4]
    local_id = ["pt", "dup", f"c{i}"][i % 3]
    patient: dict[str, Any] = {"resourceType": "Patient", "id": local_id, "name": [{"family": family}],
                               "gender": rng.choice(["male", "female"])}
    if i % 2:
        patient["birthDate"] = rng.choice(["1980", "1980-05-17", "2001-02"])
    obs: dict[str, Any] = {"resourceType": "Observation", "id": f"co{i}", "status": "final",
                           "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
                           "contained": [patient, {"resourceType": "Patient", "name": [{"family": "Nameless"}]}],
                           "effectiveDateTime": "2021-03-04"}
    if i % 5 != 4:
        obs["subject"] = {"reference": f"#{local_id}"}
    if i % 3 == 0:
        obs["contained"].append({"resourceType": "Organization", "id": "org", "name": "Reading Clinic"})
        obs["performer"] = [{"reference": "#org"}]
    return obs


def synthetic() -> list[list[dict[str, Any]]]:
    """Synthetic patient records as transactions, when the generator is available."""
    try:
        from caregate.synth import generate
    except ImportError:
        return []
    return [[entry["resource"] for entry in bundle["entry"]] for bundle in generate(3, seed=11)]


def batches(resources: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(resources), size):
        yield resources[start:start + size]


# --------------------------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Case:
    """One search: type and raw parameters as a client writes them (values are not URL-decoded)."""

    type: str | None
    qs: str
    compartment: tuple[str, str] | None = None

    def query(self) -> SearchQuery:
        params = [(name, value) for name, _, value in (p.partition("=") for p in self.qs.split("&"))]
        query = parse(self.type, params, default_registry(), strict=True, base_url=BASE)
        if self.compartment is not None:
            from caregate.fhir.definitions import patient_compartment

            assert self.type is not None
            codes = patient_compartment()[self.type]
            query.compartment = (self.compartment[0], self.compartment[1], codes)
        return query

    def __str__(self) -> str:
        where = f"{self.compartment[0]}/{self.compartment[1]}/" if self.compartment else ""
        return f"{where}{self.type or ''}?{self.qs}"


C = Case
CASES: list[Case] = [
    # string (search.html#string): prefix, accent- and case-insensitive; :exact; :contains with LIKE wildcards
    C("Patient", "name=jos"), C("Patient", "name=ZOE"), C("Patient", "name:exact=Zoë"), C("Patient", "name:exact=Zoe"),
    C("Patient", "family:contains=ll"), C("Patient", "family:contains=_s"), C("Patient", "family:contains=%"),
    C("Patient", "name=smith-jo,o'b,ang"), C("Patient", "address-city=sao"), C("Patient", "name=ana mar"),
    C("Organization", "name=hopital"), C("Patient", "name=emil&name=emile"),
    # token (search.html#token): system|code, |code, system|, code, :not, :text
    C("Patient", "identifier=urn:oid:1.2.3|A1"), C("Patient", "identifier=|A1"), C("Patient", "identifier=A1"),
    C("Patient", "identifier=urn:oid:9.9|"), C("Patient", "identifier:not=urn:oid:1.2.3|A1"),
    C("Observation", f"code={LOINC}|29463-7"), C("Observation", f"code:not={LOINC}|29463-7,|local-1"),
    C("Observation", f"component-code-value-quantity={LOINC}|8480-6$gt100"),
    C("Observation", f"component-code-value-quantity={LOINC}|8462-4$lt90,{LOINC}|8480-6$ge200"),
    C("Observation", "code=local-1"), C("Observation", "code:text=blood"), C("Observation", "code:text=WEIGHT"),
    C("Patient", "gender=female,other"), C("Patient", "gender:not=male"), C("Patient", "active=true"),
    # :in / :not-in against a shipped ValueSet's expansion (search.html#modifiers)
    C("Patient", "gender:in=http://hl7.org/fhir/ValueSet/administrative-gender"),
    C("Encounter", "class:in=http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"),
    C("Encounter", "class:in=http://terminology.hl7.org/ValueSet/v3-ActEncounterCode|2018-08-12"),
    C("Encounter", "status:not-in=http://hl7.org/fhir/ValueSet/encounter-location-status"),
    C("Patient", f"_tag={TAGS}|vip"), C("Patient", "_tag=|vip"), C("Patient", "_tag:not=vip"),
    C("Observation", "category=vital-signs&status=final,amended"),
    C("Patient", f"identifier:of-type={V2_0203}|MR|MRN1"), C("Patient", f"identifier:of-type={V2_0203}|PI|MRN0,"
                                                                        f"{V2_0203}|MR|MRN2"),
    # reference (search.html#reference): Type/id, id, :Type, this server's and other absolute URLs, versions
    C("Observation", "subject=Patient/p1"), C("Observation", "subject=p1"), C("Observation", "subject:Patient=p2"),
    C("Observation", f"subject={BASE}/Patient/p2"), C("Observation", "subject=http://other.example/fhir/Patient/p9"),
    C("Observation", "subject=Patient/p1/_history/1"), C("Observation", "subject=dup"),
    C("Observation", "subject:Location=dup,Patient/p3"), C("Observation", "subject:missing=true"),
    C("Observation", "subject:missing=false"), C("Patient", "organization=Organization/o1"),
    C("Observation", f"subject:identifier={NHS}|9990000018"), C("Observation", "subject:identifier=9990000026"),
    # date (search.html#date): every prefix at year, month, day, second precision, zones, open periods
    C("Patient", "birthdate=1980"), C("Patient", "birthdate=1980-05"), C("Patient", "birthdate=1980-05-17"),
    C("Patient", "birthdate=ne1980"), C("Patient", "birthdate=gt1990-06"), C("Patient", "birthdate=lt1975"),
    C("Patient", "birthdate=ge1980-05-17"), C("Patient", "birthdate=le1980-05"), C("Patient", "birthdate=sa1980"),
    C("Patient", "birthdate=eb1980-05"), C("Patient", "birthdate=ap1980-05-17"), C("Patient", "birthdate=ap1980"),
    C("Patient", "death-date=2020-02-29"), C("Patient", "death-date=lt2020-03-01T00:00:00Z"),
    C("Patient", "death-date:missing=true"), C("Patient", "death-date:missing=false"),
    C("Observation", "date=2021-03-04T10:00:00Z"), C("Observation", "date=2021-03-04T10:00:00+02:00"),
    C("Observation", "date=ge2021-03-04T10:00:00+02:00"),
    C("Observation", "date=gt2030"), C("Observation", "date=lt2020"), C("Observation", "date=2021-03"),
    C("Observation", "date=ne2021-03-04"), C("Observation", "date=sa2021-03-04T10:00:00-05:00"),
    C("Observation", "date=eb2021-03-04"), C("Observation", "date=ap2021-03-04T10:00:00Z"),
    C("Observation", "date=le2021-03-04T10:00:00.123-05:00"), C("Observation", "date=ge2021-03-04T23:59:59Z"),
    C("Observation", "date=2021-03-04T10:00"),
    # number (search.html#number): implicit precision ranges, Ranges open at one end
    C("RiskAssessment", "probability=0.5"), C("RiskAssessment", "probability=0.50"),
    C("RiskAssessment", "probability=gt0.5"), C("RiskAssessment", "probability=lt0.3"),
    C("RiskAssessment", "probability=ge0.75"), C("RiskAssessment", "probability=le0.2"),
    C("RiskAssessment", "probability=ne0.5"), C("RiskAssessment", "probability=sa0.45"),
    C("RiskAssessment", "probability=eb0.3"), C("RiskAssessment", "probability=ap0.3"),
    C("RiskAssessment", "probability=1,0.05"), C("RiskAssessment", "probability=3e-1"),
    # quantity (search.html#quantity): prefixes, system|code, ||code matching code or unit
    C("Observation", "value-quantity=4.7"), C("Observation", "value-quantity=5"),
    C("Observation", f"value-quantity=gt50|{UCUM}|kg"), C("Observation", "value-quantity=le5||mg"),
    C("Observation", "value-quantity=ap100"), C("Observation", "value-quantity=ne100"),
    C("Observation", "value-quantity=sa99"), C("Observation", "value-quantity=eb5"),
    C("Observation", "value-quantity=lt2"), C("Observation", "value-quantity=ge90||mmol/L"),
    C("Observation", f"value-quantity=5.0|{UCUM}|"), C("Observation", "value-quantity:missing=true"),
    C("Observation", f"value-quantity=4700|{UCUM}|g"), C("Observation", f"value-quantity=gt50000|{UCUM}|mg"),
    C("Observation", f"value-quantity=le5|{UCUM}|kg,100|{UCUM}|mmol/L"), C("Observation", "value-quantity=4700||g"),
    # uri (search.html#uri): equality, :below, :above
    C("ValueSet", f"url={VS}/base"), C("ValueSet", f"url:below={VS}/base"),
    C("ValueSet", f"url:above={VS}/base/child/grandchild/x"), C("ValueSet", "url=urn:oid:1.2"),
    C("Patient", f"_profile={PROFILE}"), C("Patient", f"_profile:below={PROFILE}"),
    C("Patient", "_profile:missing=true"),
    # _id and _lastUpdated answered from the resource row (search.html#all)
    C("Patient", "_id=p1,p2,dup"), C("Location", "_id=dup"), C("Patient", "_id:missing=false"),
    C("Patient", "_lastUpdated=2025-01-02"), C("Observation", "_lastUpdated=gt2025-01-02T05:04:05Z"),
    C("Observation", "_lastUpdated=le2025-01-02T04:04:05Z"), C("Patient", "_lastUpdated=ap2025-01-02T03:04:05Z"),
    C("Observation", "_lastUpdated=sa2025-01-02T04:00&_lastUpdated=eb2025-01-03"),
    # _list (search.html#list); _text and _content (search.html#content) on plain words
    C("Patient", "_list=l1"), C("Observation", "_list=l1,l2"), C("Patient", "_text=reading"),
    C("Patient", "_content=muller"), C("Patient", "_content=jose,zoe"), C("Observation", "_content=body weight"),
    C("Patient", "_text=of reading,zurich"),
    # several parameters ANDed, values ORed
    C("Observation", f"code={LOINC}|29463-7,{LOINC}|8867-4&date=ge2021&value-quantity=gt3&subject:missing=false"),
    C("Patient", "gender=female,male&birthdate=lt2000&name=j,e&active=true"),
    # chaining (search.html#chaining), reverse chaining (search.html#has), compartments (search.html#compartment)
    C("Observation", "subject:Patient.name=josé"), C("Observation", "subject:Patient.birthdate=lt1985"),
    C("Observation", "subject:Patient.organization.name=reading"), C("RiskAssessment", "subject:Patient.gender=male"),
    C("Observation", "subject:Patient.identifier=urn:oid:1.2.3|A1"),
    C("Patient", f"_has:Observation:subject:code={LOINC}|29463-7"),
    C("Patient", "_has:RiskAssessment:subject:probability=gt0.5&gender=female,male"),
    C("Organization", "_has:Patient:organization:_has:Observation:subject:status=final"),
    C("Observation", "code=local-1", compartment=("Patient", "p1")),
    C("RiskAssessment", "probability=ge0.5", compartment=("Patient", "p4")),
    # contained resources (search.html#contained): chains reach into them; _contained and _containedType
    C("Observation", "subject:Patient.name=contained"), C("Observation", "subject.name=quennell"),
    C("Observation", "subject:Patient.birthdate=1980&performer:Organization.name=reading"),
    C("Patient", "name=quennell&_contained=true"), C("Patient", "name=zebulon,quennell&_contained=both"),
    C("Patient", "name=zebulon,quennell&_contained=both&_containedType=contained"),
    C("Patient", "gender=male&_contained=true&_containedType=contained"), C("Patient", "_id=dup&_contained=both"),
    C("Patient", "_id=dup&_contained=true&_containedType=contained"), C("Organization", "name=reading&_contained=both"),
    C("Patient", "_lastUpdated=ge2025-01-02T06:30:00Z&_contained=true&_containedType=contained"),
    C("Patient", "name=muller&_contained=both&_containedType=contained"),
    C("Patient", "birthdate=1980&_contained=both"),
]
SYNTH_CASES: list[Case] = [
    C("Patient", "address-city=reading"), C("Encounter", "date=ge2020-01-01"), C("Encounter", "date=2017"),
    C("Condition", "code:text=conjunct"), C("Observation", f"code={LOINC}|29463-7&value-quantity=lt10|{UCUM}|kg"),
    C("Encounter", "subject:Patient.gender=female"), C("Immunization", "date=ge2015-06"),
    C("Practitioner", "name=dr"), C("Organization", "identifier=https://fhir.nhs.uk/Id/ods-organization-code|"),
    C("Patient", "_profile:below=https://fhir.hl7.org.uk/StructureDefinition/"),
    C("DiagnosticReport", "result.code=http://loinc.org|"), C("Condition", "onset-date=lt2015"),
    C("Patient", "_has:Condition:subject:code:text=conjunct"), C("Observation", "encounter:Encounter.class=AMB"),
    C("Patient", "_content=reading"), C("Condition", "_content=conjunctivitis&subject:Patient.gender=male"),
]


# --------------------------------------------------------------------------------------------- running


class Dataset:
    """The resources as stored (with meta), indexed once, with the lookups chains and `_has` need."""

    def __init__(self, stored: Iterable[dict[str, Any]]) -> None:
        self.resources: dict[Key, dict[str, Any]] = {(r["resourceType"], r["id"]): r for r in stored}
        self.indexed = {key: Indexed(r) for key, r in self.resources.items()}
        self._referring: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for (rtype, _), item in self.indexed.items():
            for code, ttype, tid, _version, _url in item.rows.references:
                if ttype is not None and tid is not None:
                    self._referring[(rtype, code, ttype, tid)].append(item.resource)

    def resolve(self, rtype: str, rid: str) -> dict[str, Any] | None:
        return self.resources.get((rtype, rid))

    def referrers(self, rtype: str, code: str, ttype: str, tid: str) -> list[dict[str, Any]]:
        return self._referring.get((rtype, code, ttype, tid), [])

    def matching(self, query: SearchQuery, types: Iterable[str] | None = None) -> set[Key]:
        """What `match` accepts; `types` narrows a search across types as `_type` does for the store. Contained
        resources returned alone are keyed as their fullUrl names them: `Container/id#local`."""
        wanted = set(types) if types is not None else None
        if query.contained == "false":
            return {key for key, item in self.indexed.items() if (wanted is None or key[0] in wanted)
                    and match(query, item, resolve=self.resolve, referrers=self.referrers)}
        matcher = compile_matcher(query, resolve=self.resolve, referrers=self.referrers)
        found = set()
        for item in self.indexed.values():
            for result in matcher.results(item):
                holder = result.container
                if holder is None:
                    found.add((result.type, result.id))
                else:
                    found.add((result.type, f"{holder.type}/{holder.id}#{result.id}"))
        return found


async def store_all(store: ResourceStore, clock: FixedClock, groups: Iterable[list[dict[str, Any]]]) -> Dataset:
    """Write each group as one transaction, an hour and a bit apart, and keep what the store returned."""
    stored: list[dict[str, Any]] = []
    for group in groups:
        written = await store.transact([Write("update", r["resourceType"], r["id"], r) for r in group])
        stored += [orjson.loads(s.json) for s in written]
        clock.advance(3600 + 17 * len(stored) % 600)
    return Dataset(stored)


async def sql_ids(store: ResourceStore, query: SearchQuery, types: list[str] | None = None) -> set[Key]:
    """Every id the SQL search returns, following the paging cursor to the end."""
    found: set[Key] = set()
    page = await store.search(query, 200, types)
    while True:
        found |= {(s.type, f"{s.container}#{s.id}" if s.container else s.id) for s in page.items}
        if not page.next_cursor:
            return found
        query.cursor = page.next_cursor
        page = await store.search(query, 200, types)


async def test_match_agrees_with_sql(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    clock = FixedClock(START)
    store = open_store(database_url, clock)
    try:
        synth = synthetic()
        data = await store_all(store, clock, [*batches(handcrafted(), 40), *synth])
        cases = CASES + (SYNTH_CASES if synth else [])
        disagreements, empty = [], []
        for case in cases:
            expected = await sql_ids(store, case.query())
            got = data.matching(case.query())
            if got != expected:
                disagreements.append(f"{case}: SQL only {sorted(expected - got)[:5]}, "
                                     f"match only {sorted(got - expected)[:5]}")
            if not expected:
                empty.append(str(case))
        with capsys.disabled():
            print(f"\n[{database_url.split(':')[0]}] match vs SQL: {len(cases)} queries x "
                  f"{len(data.resources)} resources ({len(synth)} synthetic bundles), "
                  f"{len(cases) - len(disagreements)} agree")
        assert not disagreements, "\n".join(disagreements)
        assert not empty, f"queries that find nothing compare nothing: {empty}"
    finally:
        await store.close()


# ------------------------------------------------------------------------------------ former SQL bugs


@dataclass(frozen=True)
class Bug:
    """A query the SQL compiler once answered wrongly (`reason` says how), and the answer search.html gives:
    kept so neither the compiler nor the matcher drifts back."""

    case: Case
    expected: frozenset[Key]
    reason: str
    engines: tuple[str, ...] = ("sqlite", "postgresql")
    types: tuple[str, ...] | None = None
    finds_nothing: bool = False  # the right answer is the empty set (else an empty answer proves nothing)


BUGS = [
    Bug(C("Patient", "_id:not=p1"), frozenset(("Patient", f"p{i}") for i in range(30) if i != 1) | {("Patient", "dup")},
        "compiler: _resource_column_clause ignores the modifier, so `_id:not=p1` returns Patient/p1 alone "
        "(search.html#modifiers: :not excludes the value)"),
    Bug(C("Observation", "subject.name=zebulon"), frozenset(),  # filled in from the data below
        "compiler: _chain_sql tests `x.ttype IN (targets) AND x.tid IN (ids of any target type)`, so a reference "
        "to Location/dup matches because Patient/dup is named Zebulon (search.html#chaining)"),
    Bug(C(None, f"_tag={TAGS}|vip"), frozenset(("Patient", f"p{i}") for i in range(0, 30, 8)),
        "compiler: a search across types keys index rows as 'Resource.<code>' but rows are stored as "
        "'<Type>.<code>', so common parameters never match (search.html#all)", types=("Patient", "Observation")),
    Bug(C("Observation", "code:text=écg"), frozenset(),  # filled in from the data below
        "compiler: `LOWER(text) LIKE` folds only ASCII case on SQLite, and on PostgreSQL under the C ctype the "
        "test cluster uses (initdb --no-locale), so :text is case-sensitive for É (search.html#token)"),
    Bug(C("ValueSet", f"url:above={VS}/base/child,"), frozenset({("ValueSet", "vs0"), ("ValueSet", "vs1")}),
        "compiler: an empty OR value under uri :above gives `uri IN ()`, a syntax error on PostgreSQL "
        "(SQLite accepts it); an empty value should match nothing (search.html#uri)", engines=("postgresql",)),
    Bug(C("Patient", "_list="), frozenset(("Patient", f"p{i}") for i in range(30)) | {("Patient", "dup")},
        "a parameter with an empty value is ignored (search.html#escaping), so `_list=` restricts nothing",
        engines=("postgresql",)),
    Bug(C("Patient", "_content=smith-jones"), frozenset(("Patient", f"p{i}") for i in (3, 15, 27)),
        "compiler: _fulltext_sql quotes each space-separated word, and FTS5 splits `\"smith-jones\"` (or o'brien, "
        "4.7) into a phrase, which `detail = none` rejects: 'phrase queries are not supported' (search.html#content)",
        engines=("sqlite",)),
]


def _spec_answer(bug: Bug, data: Dataset) -> frozenset[Key]:
    """Answers too tied to the generated data to list by hand, computed from the data by the spec's rule."""
    if bug.case.qs == "subject.name=zebulon":
        return frozenset(k for k, r in data.resources.items()
                         if k[0] == "Observation" and r.get("subject", {}).get("reference") == "Patient/dup")
    if bug.case.qs == "code:text=écg":
        return frozenset(k for k, r in data.resources.items()
                         if k[0] == "Observation" and any(c.get("display") == "ÉCG Größe" for c in r["code"]["coding"]))
    return bug.expected


@pytest.mark.parametrize("bug", BUGS, ids=[str(b.case) for b in BUGS])
def test_match_gives_the_specified_answer(bug: Bug) -> None:
    """Where SQL is wrong, `match` alone is checked against the specification (no database needed)."""
    data = Dataset(handcrafted())
    expected = _spec_answer(bug, data)
    assert bool(expected) != bug.finds_nothing, "the data must hold a resource the query should find"
    assert data.matching(bug.case.query(), bug.types) == expected


@pytest.mark.parametrize("bug", BUGS, ids=[str(b.case) for b in BUGS])
async def test_sql_gives_the_specified_answer(database_url: str, bug: Bug) -> None:
    clock = FixedClock(START)
    store = open_store(database_url, clock)
    try:
        data = await store_all(store, clock, batches(handcrafted(), 40))
        expected = await sql_ids(store, bug.case.query(), list(bug.types) if bug.types else None)
        assert data.matching(bug.case.query(), bug.types) == expected, bug.reason
    finally:
        await store.close()


async def test_sql_rejects_id_text_as_unsupported(database_url: str) -> None:
    """`match` refuses `_id:text` as not supported; the store should say the same, not fail an assertion."""
    query = Case("Patient", "_id:text=p1").query()
    with pytest.raises(FhirError):
        match(query, {"resourceType": "Patient", "id": "p1"})
    store = open_store(database_url)
    try:
        with pytest.raises(FhirError):
            await store.search(query)
    finally:
        await store.close()


def test_compiled_matcher_is_reusable_and_explains_missing_callables() -> None:
    """One compiled matcher serves many resources; chains and `_has` say what they need when it is missing."""
    data = Dataset(handcrafted())
    matcher = compile_matcher(Case("Patient", "name=jos").query())
    assert {k for k, item in data.indexed.items() if matcher(item)} == {
        k for k, r in data.resources.items() if matcher(r)}
    with pytest.raises(ValueError, match="resolve"):
        match(Case("Observation", "subject:Patient.name=x").query(), data.resources[("Observation", "ob0")])
    with pytest.raises(ValueError, match="resolve"):
        match(Case("Patient", "_list=l1").query(), data.resources[("Patient", "p1")])
    with pytest.raises(ValueError, match="_has"):
        match(Case("Patient", "_has:Observation:subject:status=final").query(), data.resources[("Patient", "p0")])
    assert not match(Case("Patient", "_id=ob0").query(), data.resources[("Observation", "ob0")])  # type check
