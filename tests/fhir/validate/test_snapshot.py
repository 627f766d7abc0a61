"""Snapshot generation (profiling.html#snapshot): the shipped UK Core snapshots and ones made at run time."""

from __future__ import annotations

from typing import Any

import pytest

from caregate.fhir.validate.snapshot import SnapshotError, generate_snapshot
from caregate.fhir.validate.structures import Definitions, shipped

UK = "https://fhir.hl7.org.uk/StructureDefinition/"


def _elements(url: str) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in shipped()[url]["snapshot"]["element"]}


def test_every_uk_core_definition_ships_with_a_snapshot() -> None:
    uk = [sd for sd in shipped().values() if sd.get("publisher") == "HL7 UK"]
    assert len([sd for sd in uk if sd["type"] != "Extension"]) == 70
    assert len([sd for sd in uk if sd["type"] == "Extension"]) == 83  # some with R5 backport urls
    assert len(shipped()) == 70 + 83 + 393  # and the R4 core extensions
    for sd in uk:
        ids = [e["id"] for e in sd["snapshot"]["element"]]
        assert ids[0] == sd["type"] and len(ids) == len(set(ids)), sd["url"]
        assert all(d["id"] in ids for d in sd["differential"]["element"]), sd["url"]


def test_slices_follow_their_element_and_inherit_its_children() -> None:
    ids = [e["id"] for e in shipped()[UK + "UKCore-Patient"]["snapshot"]["element"]]
    start = ids.index("Patient.identifier")
    assert ids[start + 1] == "Patient.identifier:nhsNumber"
    els = _elements(UK + "UKCore-Patient")
    assert els["Patient.identifier"]["slicing"]["discriminator"] == [{"type": "value", "path": "system"}]
    assert els["Patient.identifier:nhsNumber"]["max"] == "1" and els["Patient.identifier:nhsNumber"]["min"] == 0
    assert els["Patient.identifier:nhsNumber.system"]["fixedUri"] == "https://fhir.nhs.uk/Id/nhs-number"
    assert els["Patient.identifier:nhsNumber.period"]["type"] == [{"code": "Period"}]  # from Identifier


def test_extension_slices_take_the_extension_definition() -> None:
    els = _elements(UK + "UKCore-Patient")
    slice_ = els["Patient.extension:birthSex"]
    assert slice_["type"] == [{"code": "Extension", "profile": [UK + "Extension-UKCore-BirthSex"]}]
    # where the differential goes inside the slice, its elements come from the extension's own definition
    assert els["Patient.extension:birthPlace.url"]["fixedUri"] == (
        "http://hl7.org/fhir/StructureDefinition/patient-birthPlace")
    assert els["Patient.extension:birthPlace.value[x]"]["type"] == [{"code": "Address"}]


def test_profiles_on_profiles_keep_what_the_base_profile_says() -> None:
    els = _elements(UK + "UKCore-Observation-VitalSigns-HeartRate")
    assert els["Observation.code.coding:loinc.code"]["fixedCode"] == "8867-4"  # its own differential
    assert els["Observation.category"]["min"] == 1  # from UKCore-Observation-VitalSigns
    keys = [c["key"] for c in els["Observation"]["constraint"]]
    assert "obs-6" in keys and "ukcore-obs-vs-001" in keys  # invariants accumulate down the chain


def _profile(elements: list[dict[str, Any]], base: str = "http://hl7.org/fhir/StructureDefinition/Patient") -> dict:
    return {"resourceType": "StructureDefinition", "url": "https://example.org/p", "type": "Patient",
            "derivation": "constraint", "baseDefinition": base, "differential": {"element": elements}}


def test_runtime_snapshot_from_the_validation_tables() -> None:
    defs = Definitions()
    els = {e["id"]: e for e in generate_snapshot(_profile([
        {"id": "Patient.contact.name.family", "path": "Patient.contact.name.family", "min": 1},
        {"id": "Patient.name", "path": "Patient.name", "constraint": [
            {"key": "x-1", "severity": "error", "human": "a family name", "expression": "family.exists()"}]},
    ]), defs.resolve)}
    assert els["Patient.contact.name.family"]["min"] == 1
    assert els["Patient.contact.name.given"]["max"] == "*"  # the rest of HumanName came with it
    assert [c["key"] for c in els["Patient.name"]["constraint"]] == ["ele-1", "x-1"]


@pytest.mark.parametrize(("elements", "base", "message"), [
    ([{"id": "Patient.nothing", "path": "Patient.nothing"}], None, "Patient.nothing is not in the base"),
    ([], "https://example.org/unknown", "is not known"),
    ([{"id": "Patient.deceasedString", "path": "Patient.deceasedString"}], None, "has no type String"),
])
def test_differentials_that_cannot_be_applied(elements: list, base: str | None, message: str) -> None:
    sd = _profile(elements, base or "http://hl7.org/fhir/StructureDefinition/Patient")
    with pytest.raises(SnapshotError, match=message):
        generate_snapshot(sd, Definitions().resolve)
