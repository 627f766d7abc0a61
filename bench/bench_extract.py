"""Indexing throughput: how many resources per second `index_resource` turns into index rows.

Indexing runs on every create and update (https://hl7.org/fhir/R4/search.html), so its cost bounds write
throughput. The sample is a deterministic mix of typical clinical resources (Patient, Observation,
Condition, Encounter, MedicationRequest, Procedure) built here, a few thousand in all.

Run: .venv/bin/python bench/bench_extract.py [COUNT]
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from caregate.search.extract import index_resource, plan_for

Resource = dict[str, Any]

_FAMILIES = ["Smith", "García", "Nguyễn", "Müller", "O'Brien", "Kowalski", "Dubois", "Okafor"]
_GIVEN = ["Anna", "José", "Li", "Fatima", "Jean-Luc", "Sven", "Amara", "Noah"]
_LOINC = [
    ("8867-4", "Heart rate", "/min"),
    ("2339-0", "Glucose", "mg/dL"),
    ("8310-5", "Body temperature", "Cel"),
]
_SNOMED = [("44054006", "Diabetes mellitus type 2"), ("38341003", "Hypertension"), ("195967001", "Asthma")]


def _day(rng: random.Random) -> str:
    return f"{rng.randint(1940, 2023)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _instant(rng: random.Random) -> str:
    return f"{_day(rng)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+01:00"


def _concept(system: str, code: str, display: str) -> Resource:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _patient(rng: random.Random, n: int) -> Resource:
    return {
        "resourceType": "Patient",
        "id": f"p{n}",
        "meta": {"lastUpdated": "2024-01-01T00:00:00Z", "tag": [{"system": "urn:bench", "code": "demo"}]},
        "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": f"MRN{n:06d}"}],
        "active": True,
        "name": [{"use": "official", "family": rng.choice(_FAMILIES), "given": [rng.choice(_GIVEN)]}],
        "telecom": [
            {"system": "phone", "value": f"+1 555 {n:04d}"},
            {"system": "email", "value": f"p{n}@x.org"},
        ],
        "gender": rng.choice(["male", "female", "other"]),
        "birthDate": _day(rng),
        "address": [
            {"line": [f"{n} Main St"], "city": "Springfield", "postalCode": "12345", "country": "US"}
        ],
        "generalPractitioner": [{"reference": f"Practitioner/pr{n % 20}"}],
        "managingOrganization": {"reference": "Organization/org1"},
    }


def _observation(rng: random.Random, n: int) -> Resource:
    code, display, unit = rng.choice(_LOINC)
    return {
        "resourceType": "Observation",
        "id": f"o{n}",
        "status": "final",
        "category": [
            _concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital")
        ],
        "code": _concept("http://loinc.org", code, display),
        "subject": {"reference": f"Patient/p{n % 500}"},
        "encounter": {"reference": f"Encounter/e{n % 700}"},
        "effectiveDateTime": _instant(rng),
        "issued": "2024-01-01T10:00:00.000Z",
        "valueQuantity": {
            "value": round(rng.uniform(30, 200), 1),
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
        "interpretation": [
            _concept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "N", "Normal")
        ],
    }


def _condition(rng: random.Random, n: int) -> Resource:
    code, display = rng.choice(_SNOMED)
    return {
        "resourceType": "Condition",
        "id": f"c{n}",
        "clinicalStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
        ),
        "code": _concept("http://snomed.info/sct", code, display),
        "subject": {"reference": f"Patient/p{n % 500}"},
        "onsetDateTime": _day(rng),
        "recordedDate": _day(rng),
    }


def _encounter(rng: random.Random, n: int) -> Resource:
    start = _instant(rng)
    return {
        "resourceType": "Encounter",
        "id": f"e{n}",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [_concept("http://snomed.info/sct", "185349003", "Check up")],
        "subject": {"reference": f"Patient/p{n % 500}"},
        "participant": [{"individual": {"reference": f"Practitioner/pr{n % 20}"}}],
        "period": {"start": start, "end": start},
        "serviceProvider": {"reference": "Organization/org1"},
    }


def _medication_request(rng: random.Random, n: int) -> Resource:
    return {
        "resourceType": "MedicationRequest",
        "id": f"m{n}",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": _concept(
            "http://www.nlm.nih.gov/research/umls/rxnorm", "860975", "Metformin"
        ),
        "subject": {"reference": f"Patient/p{n % 500}"},
        "authoredOn": _day(rng),
        "requester": {"reference": f"Practitioner/pr{n % 20}"},
        "dosageInstruction": [{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}}],
    }


def _procedure(rng: random.Random, n: int) -> Resource:
    return {
        "resourceType": "Procedure",
        "id": f"pr{n}",
        "status": "completed",
        "code": _concept("http://snomed.info/sct", "80146002", "Appendectomy"),
        "subject": {"reference": f"Patient/p{n % 500}"},
        "performedPeriod": {"start": _day(rng)},
    }


_MAKERS: list[tuple[Callable[[random.Random, int], Resource], int]] = [
    (_patient, 2),
    (_observation, 5),
    (_condition, 2),
    (_encounter, 2),
    (_medication_request, 1),
    (_procedure, 1),
]


def sample(count: int, seed: int = 4) -> list[Resource]:
    """A deterministic mix of resources, weighted towards Observations as in real clinical data."""
    rng = random.Random(seed)
    makers = [maker for maker, weight in _MAKERS for _ in range(weight)]
    return [rng.choice(makers)(rng, n) for n in range(count)]


def main(argv: list[str]) -> None:
    count = int(argv[1]) if len(argv) > 1 else 5000
    resources = sample(count)
    for rtype in sorted({r["resourceType"] for r in resources}):
        plan_for(rtype)  # compile once, outside the timing (the server does this on first use)
    best = 0.0
    rows = 0
    for _ in range(3):
        start = time.perf_counter()
        rows = 0
        for resource in resources:
            out = index_resource(resource)
            rows += len(out.strings) + len(out.tokens) + len(out.references) + len(out.dates)
            rows += len(out.numbers) + len(out.quantities) + len(out.uris)
        best = max(best, count / (time.perf_counter() - start))
    print(f"index_resource: {count} resources, {rows} rows, {best:,.0f} resources/s (best of 3)")


if __name__ == "__main__":
    main(sys.argv)
