"""The synthetic UK population generator.

:func:`generate` yields one transaction Bundle holding the shared care directory (GP practices,
hospital trusts, their sites and staff) followed by one Bundle per patient with that patient's whole
record. Output is a pure function of ``(patients, seed, start)``: all randomness comes from
``random.Random`` instances seeded from the seed (the directory and each patient draw from their own
stream, seeded with a string, which Python hashes with SHA-512 independently of PYTHONHASHSEED), ids
are name-based UUIDs, and the reference date is a parameter rather than the wall clock. The same
arguments therefore give byte-identical output on every run and every machine.

Bundles are produced lazily, one patient at a time, so arbitrarily large data sets stream in
constant memory; NHS numbers stay unique across the data set, which caps it at the roughly 909,000
valid numbers of the 999 test range.

Every Bundle entry is a ``PUT Type/id`` (FHIR R4 http.html#transaction and http.html#update, "update
as create"), so loading a bundle creates its resources the first time and rewrites them with
identical content every later time: a data set loads into any store, any number of times, with the
same result. References are relative ("Patient/<id>") and need no placeholder rewriting. Because ids
are UUIDs, each entry's ``fullUrl`` is the matching ``urn:uuid:`` URI, which keeps fullUrl and
resource id in agreement as the Bundle rules require (bundle.html#bundle-unique).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from caregate.synth.chart import Chart
from caregate.synth.directory import Directory, build_directory
from caregate.synth.ids import Counter, IdFactory
from caregate.synth.lifetime import replay
from caregate.synth.patient import make_person, patient_resource
from caregate.synth.physiology import make_body
from caregate.synth.plan import Planner
from caregate.synth.times import DEFAULT_NOW


def entry(resource: dict[str, Any]) -> dict[str, Any]:
    """A transaction entry that PUTs ``resource`` at its own id."""
    resource_type, resource_id = resource["resourceType"], resource["id"]
    return {
        "fullUrl": f"urn:uuid:{resource_id}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource_type}/{resource_id}"},
    }


def transaction(bundle_id: str, resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle with one PUT entry per resource, in the given order."""
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "transaction",
        "entry": [entry(resource) for resource in resources],
    }


def generate(patients: int, seed: int = 0, start: date | None = None) -> Iterator[dict[str, Any]]:
    """Yield the directory Bundle, then one transaction Bundle per patient.

    ``start`` is the reference date the simulated histories run up to (the "today" of the data
    set); it defaults to :data:`~caregate.synth.times.DEFAULT_NOW` so that output never depends on
    when it is generated. Patients who have died have records ending the day before their death.
    """
    if patients < 0:
        raise ValueError("patients must not be negative")
    today = start or DEFAULT_NOW
    ids = IdFactory(seed)
    directory = build_directory(patients, seed)
    yield transaction(ids.make("bundle/directory"), directory.resources)
    used_numbers: set[str] = set()
    for index in range(patients):
        record = patient_record(index, seed, today, directory, ids, used_numbers)
        yield transaction(ids.make(f"bundle/patient/{index}"), record)


def patient_record(
    index: int, seed: int, today: date, directory: Directory, ids: IdFactory, used_numbers: set[str]
) -> list[dict[str, Any]]:
    """All resources of patient ``index``: the Patient first, then events in date order."""
    rng = random.Random(f"caregate-synth:{seed}:patient:{index}")
    practice = rng.choice(directory.practices)
    person = make_person(rng, practice, today, used_numbers)
    body = make_body(rng, person.sex, person.birth)
    end = person.death - timedelta(days=1) if person.death else today
    hospital = directory.hospital_for(practice.town)
    chart = Chart(rng, Counter(ids, f"p{index}"), person, body, practice, hospital, end)
    planner = Planner(rng, body, person.sex, end)
    events = planner.plan()
    chart.chronic = planner.chronic
    chart.add(patient_resource(chart.patient_id, person, practice, end))
    replay(chart, events)
    if person.death is not None:
        for resource in chart.resources:
            if resource["resourceType"] == "MedicationRequest" and resource["status"] == "active":
                resource["status"] = "stopped"
    return chart.resources
