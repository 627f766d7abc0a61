"""Codes are real-looking standard codes: SNOMED CT ids pass their Verhoeff check, LOINC codes their
mod-10 check, quantities use UCUM, and each resource uses the code system UK Core expects."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from caregate.check.snomed import verhoeff_ok
from caregate.synth import clinical, conditions, generate, immunisation, measures, medications
from caregate.synth.terminology import LOINC, SNOMED, UCUM


def snomed_id_ok(code: str) -> bool:
    """SNOMED CT identifier rules: 6-18 digits, no leading zero, valid Verhoeff check digit."""
    return code.isdigit() and 6 <= len(code) <= 18 and code[0] != "0" and verhoeff_ok(code)


def loinc_ok(code: str) -> bool:
    """LOINC codes are digits, a hyphen and a mod-10 (Luhn) check digit."""
    body, _, check = code.partition("-")
    if not (body.isdigit() and check.isdigit() and len(check) == 1):
        return False
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10 == int(check)


@lru_cache(maxsize=1)
def sample() -> tuple[dict[str, Any], ...]:
    return tuple(entry["resource"] for bundle in generate(15, seed=8) for entry in bundle["entry"])


def codings(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "system" in node and "code" in node and isinstance(node["code"], str):
            yield node
        for value in node.values():
            yield from codings(value)
    elif isinstance(node, list):
        for item in node:
            yield from codings(item)


def test_check_digit_helpers_know_good_from_bad() -> None:
    assert snomed_id_ok("44054006") and not snomed_id_ok("44054007")
    assert loinc_ok("8867-4") and not loinc_ok("8867-5")


def test_every_catalogued_snomed_code_is_a_valid_identifier() -> None:
    codes = [
        *clinical.all_snomed_codes(),
        *conditions.all_snomed_codes(),
        *immunisation.all_snomed_codes(),
        *(drug.code for drug in medications.ALL),
        medications.TABLET,
        medications.CAPSULE,
        medications.DOSE,
    ]
    assert len(codes) > 80
    assert [c.code for c in codes if c.system != SNOMED or not snomed_id_ok(c.code) or not c.display] == []


def test_every_catalogued_loinc_code_is_valid() -> None:
    codes = [m.code for m in (*measures.VITALS.values(), *measures.LABS.values(), measures.PHQ9)]
    codes += [p.code for p in measures.PANELS.values()]
    codes += [measures.BLOOD_PRESSURE, measures.SYSTOLIC, measures.DIASTOLIC, measures.SPO2_CORE]
    assert [c.code for c in codes if c.system != LOINC or not loinc_ok(c.code)] == []


def test_generated_snomed_and_loinc_codes_are_valid() -> None:
    found = list(codings(list(sample())))
    snomed = {c["code"] for c in found if c["system"] == SNOMED}
    loinc = {c["code"] for c in found if c["system"] == LOINC}
    assert len(snomed) > 50 and len(loinc) > 20
    assert sorted(c for c in snomed if not snomed_id_ok(c)) == []
    assert sorted(c for c in loinc if not loinc_ok(c)) == []


def test_conditions_procedures_and_medicines_are_snomed_coded() -> None:
    fields = {
        "Condition": "code",
        "Procedure": "code",
        "AllergyIntolerance": "code",
        "MedicationRequest": "medicationCodeableConcept",
        "Immunization": "vaccineCode",
    }
    for resource in sample():
        if resource["resourceType"] in fields:
            concept = resource[fields[resource["resourceType"]]]
            assert concept["coding"][0]["system"] == SNOMED
            assert concept["coding"][0]["display"]


def test_observation_quantities_use_ucum() -> None:
    quantities = 0
    for resource in sample():
        if resource["resourceType"] != "Observation":
            continue
        assert resource["code"]["coding"][0]["system"] == LOINC
        values = [resource.get("valueQuantity")] + [c["valueQuantity"] for c in resource.get("component", [])]
        for value in filter(None, values):
            quantities += 1
            assert value["system"] == UCUM and value["code"] and isinstance(value["value"], int | float)
    assert quantities > 500


def test_vital_signs_follow_the_fhir_vital_signs_profiles() -> None:
    units = {
        "8867-4": "/min", "9279-1": "/min", "8310-5": "Cel", "29463-7": "kg", "8302-2": "cm",
        "39156-5": "kg/m2", "9843-4": "cm", "59408-5": "%",
    }
    seen = set()
    for resource in sample():
        if resource["resourceType"] != "Observation":
            continue
        code = resource["code"]["coding"][0]["code"]
        category = resource["category"][0]["coding"][0]
        if code in units:
            seen.add(code)
            assert category["code"] == "vital-signs"
            assert resource["valueQuantity"]["code"] == units[code]
            assert resource["meta"]["profile"][0].startswith("http://hl7.org/fhir/StructureDefinition/")
        if code == "85354-9":
            seen.add(code)
            parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in resource["component"]}
            assert set(parts) == {"8480-6", "8462-4"}
            assert all(q["code"] == "mm[Hg]" for q in parts.values())
            assert parts["8480-6"]["value"] > parts["8462-4"]["value"]
    assert {"8867-4", "8310-5", "29463-7", "39156-5", "85354-9"} <= seen


def test_lab_results_have_ranges_and_reports() -> None:
    reports = [r for r in sample() if r["resourceType"] == "DiagnosticReport"]
    labs = {r["id"]: r for r in sample() if r["resourceType"] == "Observation"
            and r["category"][0]["coding"][0]["code"] == "laboratory"}
    assert reports and labs
    for report in reports:
        assert report["category"][0]["coding"][0]["code"] == "LAB"
        for ref in report["result"]:
            assert ref["reference"].split("/")[1] in labs
    assert all(lab["referenceRange"] and lab["interpretation"] and lab["issued"] for lab in labs.values())
