"""Records are lifetime-sized, like Synthea's: hundreds of resources for a typical adult."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import date
from functools import lru_cache
from typing import Any

from caregate.synth import DEFAULT_NOW, generate


@lru_cache(maxsize=1)
def records() -> tuple[tuple[int, Counter[str]], ...]:
    """(age, resource counts by type) for each of 80 patients."""
    rows = []
    bundles = generate(80, seed=21)
    next(bundles)  # the shared directory
    for bundle in bundles:  # streamed: one patient in memory at a time
        patient: dict[str, Any] = bundle["entry"][0]["resource"]
        born = date.fromisoformat(patient["birthDate"])
        age = (DEFAULT_NOW - born).days // 365
        rows.append((age, Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])))
    return tuple(rows)


def test_resources_per_patient_are_plausible() -> None:
    totals = [sum(counts.values()) for _, counts in records()]
    assert 150 <= statistics.mean(totals) <= 600
    assert min(totals) >= 5
    assert max(totals) <= 2500


def test_older_patients_have_longer_records() -> None:
    children = [sum(c.values()) for age, c in records() if age < 18]
    older = [sum(c.values()) for age, c in records() if age >= 65]
    assert children and older
    assert statistics.mean(older) > 2 * statistics.mean(children)


def test_every_kind_of_record_appears() -> None:
    seen: Counter[str] = Counter()
    for _, counts in records():
        seen.update(counts)
    expected = {
        "Patient", "Encounter", "Condition", "Observation", "DiagnosticReport", "MedicationRequest",
        "Immunization", "Procedure", "AllergyIntolerance",
    }
    assert expected <= set(seen)
    assert seen["Observation"] > seen["Encounter"] > seen["Patient"]


def test_ten_patients_generate_quickly() -> None:
    began = time.perf_counter()
    count = sum(len(bundle["entry"]) for bundle in generate(10, seed=5))
    assert count > 1000
    assert time.perf_counter() - began < 5.0  # typically about 0.1 s
