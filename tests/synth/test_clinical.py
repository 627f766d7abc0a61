"""Each record tells one coherent story: dates in order, weekday surgeries, consistent measurements,
long-term conditions that are treated and monitored."""

from __future__ import annotations

from collections import Counter
from datetime import date
from functools import lru_cache
from typing import Any

from caregate.synth import generate

Record = list[dict[str, Any]]


@lru_cache(maxsize=1)
def records() -> tuple[Record, ...]:
    bundles = list(generate(40, seed=29))[1:]
    return tuple([entry["resource"] for entry in bundle["entry"]] for bundle in bundles)


def event_dates(resource: dict[str, Any]) -> list[str]:
    keys = ("effectiveDateTime", "authoredOn", "occurrenceDateTime", "onsetDateTime", "recordedDate")
    found = [resource[key][:10] for key in keys if key in resource]
    for key in ("period", "performedPeriod"):
        if key in resource:
            found.append(resource[key]["start"][:10])
    return found


def test_events_fall_within_the_patients_life() -> None:
    for record in records():
        patient = record[0]
        last = patient.get("deceasedDateTime", "2026-01-01")[:10]
        for resource in record[1:]:
            for day in event_dates(resource):
                assert patient["birthDate"] <= day <= last, (resource["resourceType"], day)


def test_encounter_periods_run_forwards() -> None:
    for record in records():
        for resource in record:
            if resource["resourceType"] in ("Encounter", "Procedure"):
                period = resource.get("period") or resource["performedPeriod"]
                assert period["start"] < period["end"]


def test_surgery_appointments_are_on_weekdays() -> None:
    checked = 0
    for record in records():
        practice = record[0]["generalPractitioner"][0]["reference"]
        for resource in record:
            if resource["resourceType"] != "Encounter":
                continue
            if resource["serviceProvider"]["reference"] == practice:
                checked += 1
                assert date.fromisoformat(resource["period"]["start"][:10]).weekday() < 5
    assert checked > 100


def test_bmi_is_calculated_from_the_same_visits_weight_and_height() -> None:
    compared = 0
    for record in records():
        by_encounter: dict[str, dict[str, float]] = {}
        for r in record:
            if r["resourceType"] == "Observation" and "valueQuantity" in r:
                code = r["code"]["coding"][0]["code"]
                by_encounter.setdefault(r["encounter"]["reference"], {})[code] = r["valueQuantity"]["value"]
        for values in by_encounter.values():
            if {"29463-7", "8302-2", "39156-5"} <= values.keys():
                compared += 1
                expected = values["29463-7"] / (values["8302-2"] / 100) ** 2
                assert abs(values["39156-5"] - expected) < 0.2
    assert compared > 5


def test_conditions_are_active_or_resolved_after_onset() -> None:
    for record in records():
        for r in record:
            if r["resourceType"] == "Condition":
                status = r["clinicalStatus"]["coding"][0]["code"]
                assert status in ("active", "resolved")
                assert ("abatementDateTime" in r) == (status == "resolved")
                if status == "resolved":
                    assert r["onsetDateTime"] < r["abatementDateTime"]


def test_long_term_conditions_are_treated_and_monitored() -> None:
    checked = 0
    for record in records():
        problems = {r["code"]["coding"][0]["code"] for r in record if r["resourceType"] == "Condition"}
        medicines = {
            r["medicationCodeableConcept"]["coding"][0]["code"]
            for r in record
            if r["resourceType"] == "MedicationRequest"
        }
        tests = Counter(r["code"]["coding"][0]["code"] for r in record if r["resourceType"] == "Observation")
        if "44054006" in problems:  # type 2 diabetes: metformin and HbA1c
            checked += 1
            assert "325278007" in medicines and tests["59261-8"] >= 1
        if "195967001" in problems:  # asthma: salbutamol reliever
            checked += 1
            assert "39113611000001102" in medicines
        if "38341003" in problems:  # hypertension: blood pressure readings and a first-line drug
            checked += 1
            assert tests["85354-9"] >= 1 and medicines & {"318902004", "319283006"}
    assert checked >= 3


def test_one_active_authorisation_per_repeat_medicine() -> None:
    for record in records():
        active = Counter(
            r["medicationCodeableConcept"]["coding"][0]["code"]
            for r in record
            if r["resourceType"] == "MedicationRequest"
            and r["status"] == "active"
            and r["courseOfTherapyType"]["coding"][0]["code"] == "continuous"
        )
        assert all(count == 1 for count in active.values())
        if "deceasedDateTime" in record[0]:
            assert not active
