"""FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html) on resource JSON: each operation, primitives with
their `_name` companions, choice elements, anonymous parts, and errors that say what and where."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from caregate.fhir.fhirpatch import FhirPatchError, apply, is_fhirpath_patch

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": "urn:a", "value": "1"}, {"system": "urn:b", "value": "2"},
                   {"system": "urn:c", "value": "3"}],
    "name": [{"family": "Khan", "given": ["Aisha", "B"], "_given": [None, {"extension": [
        {"url": "http://example.org/initial", "valueBoolean": True}]}]}],
    "birthDate": "1980-02-03",
    "gender": "female",
}


def op(kind: str, path: str, **parts: Any) -> dict:
    out: list[dict] = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name == "name":
            out.append({"name": "name", "valueString": value})
        elif name in ("index", "source", "destination"):
            out.append({"name": name, "valueInteger": value})
        else:
            out.append({"name": "value", **value})
    return {"name": "operation", "part": out}


def patch(*operations: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": list(operations)}


def run(*operations: dict, resource: dict | None = None) -> dict:
    return apply(copy.deepcopy(resource or PATIENT), patch(*operations))


def test_add_sets_a_missing_element_and_appends_to_a_list() -> None:
    out = run(op("add", "Patient", name="deceasedBoolean", value={"valueBoolean": False}),
              op("add", "Patient", name="telecom", value={"valueContactPoint": {"system": "phone", "value": "1"}}),
              op("add", "Patient.name[0]", name="given", value={"valueString": "C"}))
    assert out["deceasedBoolean"] is False
    assert out["telecom"] == [{"system": "phone", "value": "1"}]
    assert out["name"][0]["given"] == ["Aisha", "B", "C"]
    assert out["name"][0]["_given"][1]["extension"][0]["valueBoolean"] is True


def test_add_takes_the_choice_key_of_the_value_type_and_anonymous_parts() -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "w"}}
    out = run(op("add", "Observation", name="value", value={"valueQuantity": {"value": 72, "unit": "kg"}}),
              op("add", "Observation", name="component", value={"part": [
                  {"name": "code", "valueCodeableConcept": {"text": "systolic"}},
                  {"name": "value", "valueQuantity": {"value": 120}},
                  {"name": "interpretation", "valueCodeableConcept": {"text": "high"}}]}),
              resource=obs)
    assert out["valueQuantity"] == {"value": 72, "unit": "kg"}
    assert out["component"] == [{"code": {"text": "systolic"}, "valueQuantity": {"value": 120},
                                 "interpretation": [{"text": "high"}]}]


def test_add_an_extension_to_a_primitive_goes_to_its_companion() -> None:
    ext = {"part": [{"name": "url", "valueUri": "http://example.org/x"}, {"name": "value", "valueString": "estimated"}]}
    out = run(op("add", "Patient.birthDate", name="extension", value=ext))
    assert out["birthDate"] == "1980-02-03"
    assert out["_birthDate"] == {"extension": [{"url": "http://example.org/x", "valueString": "estimated"}]}


def test_insert_places_at_the_index_and_keeps_primitive_companions_aligned() -> None:
    out = run(op("insert", "Patient.identifier", index=1, value={"valueIdentifier": {"value": "new"}}),
              op("insert", "Patient.name[0].given", index=0, value={"valueString": "Z"}),
              op("insert", "Patient.telecom", index=0, value={"valueContactPoint": {"value": "t"}}))
    assert [i["value"] for i in out["identifier"]] == ["1", "new", "2", "3"]
    assert out["name"][0]["given"] == ["Z", "Aisha", "B"]
    assert out["name"][0]["_given"][2]["extension"][0]["url"] == "http://example.org/initial"
    assert out["name"][0]["_given"][:2] == [None, None]
    assert out["telecom"] == [{"value": "t"}]


def test_delete_removes_one_element_and_nothing_when_nothing_matches() -> None:
    out = run(op("delete", "Patient.identifier.where(system = 'urn:b')"),
              op("delete", "Patient.name[0].given[1]"),
              op("delete", "Patient.deceased"),
              op("delete", "Patient.gender"))
    assert [i["value"] for i in out["identifier"]] == ["1", "3"]
    assert out["name"][0]["given"] == ["Aisha"]
    assert "_given" not in out["name"][0]
    assert "gender" not in out


def test_delete_leaves_no_empty_elements_behind() -> None:
    resource = {"resourceType": "Patient", "name": [{"given": ["A"]}], "_birthDate": {"extension": [
        {"url": "http://example.org/x", "valueString": "y"}]}, "birthDate": "2000"}
    out = run(op("delete", "Patient.name.given"), op("delete", "Patient.birthDate.extension"), resource=resource)
    assert out == {"resourceType": "Patient", "birthDate": "2000"}


def test_replace_a_primitive_a_complex_element_and_a_choice_of_another_type() -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "w"}, "valueString": "heavy",
           "_valueString": {"id": "v"}}
    out = run(op("replace", "Observation.value", value={"valueQuantity": {"value": 90}}),
              op("replace", "Observation.status", value={"valueCode": "amended"}),
              op("replace", "Observation.code", value={"valueCodeableConcept": {"text": "weight"}}),
              resource=obs)
    assert out == {"resourceType": "Observation", "status": "amended", "code": {"text": "weight"},
                   "valueQuantity": {"value": 90}}
    again = run(op("replace", "Patient.name[0].given[1]", value={"valueString": "Bea"}))
    assert again["name"][0]["given"] == ["Aisha", "Bea"]
    assert "_given" not in again["name"][0]


def test_move_within_a_list() -> None:
    out = run(op("move", "Patient.identifier", source=0, destination=2),
              op("move", "Patient.name[0].given", source=1, destination=0))
    assert [i["value"] for i in out["identifier"]] == ["2", "3", "1"]
    assert out["name"][0]["given"] == ["B", "Aisha"]
    assert out["name"][0]["_given"][0]["extension"][0]["url"] == "http://example.org/initial"


def test_the_input_is_untouched_and_a_failing_patch_changes_nothing() -> None:
    original = copy.deepcopy(PATIENT)
    with pytest.raises(FhirPatchError):
        apply(PATIENT, patch(op("delete", "Patient.gender"),
                             op("replace", "Patient.nothing", value={"valueString": "x"})))
    assert original == PATIENT


@pytest.mark.parametrize(
    ("operation", "location", "malformed", "says"),
    [
        (op("replace", "Patient.telecom", value={"valueString": "x"}), "part[1]", False, "matches nothing"),
        (op("replace", "Patient.identifier", value={"valueIdentifier": {}}), "part[1]", False, "3 elements"),
        (op("delete", "Patient.identifier"), "part[1]", False, "delete takes one"),
        (op("add", "Patient.identifier", name="value", value={"valueString": "x"}), "part[1]", False, "3 elements"),
        (op("add", "Patient", name="gender", value={"valueCode": "male"}), "part[2]", False, "already present"),
        (op("add", "Patient", name="colour", value={"valueString": "x"}), "part[2]", False, "no element 'colour'"),
        (op("add", "Patient", name="birthDate", value={"valueBoolean": True}), "part[3]", False, "takes date"),
        (op("replace", "Patient.gender", value={"valueInteger": 1}), "part[2]", False, "takes code"),
        (op("insert", "Patient.identifier", index=4, value={"valueIdentifier": {}}), "part[2]", False, "0..3"),
        (op("insert", "Patient.birthDate", index=0, value={"valueDate": "2000"}), "part[1]", False, "one list"),
        (op("move", "Patient.identifier", source=0, destination=3), "part[3]", False, "0..2"),
        (op("explode", "Patient"), "part[0]", True, "unknown operation type"),
        (op("replace", "Patient.name.(", value={"valueString": "x"}), "part[1]", True, "not valid FHIRPath"),
        (op("delete", "Patient.managingOrganization.resolve()"), "part[1]", True, "resolve()"),
        (op("delete", "Patient.descendants().descendants().where(value = '1')"), "part[1]", True, "descendants()"),
        ({"name": "operation", "part": [{"name": "type", "valueCode": "insert"},
                                        {"name": "path", "valueString": "Patient.identifier"}]}, "", True, "needs a"),
        ({"name": "op", "part": []}, "", True, "named 'operation'"),
    ],
)
def test_errors_name_the_part_and_say_whether_the_patch_is_malformed(operation: dict, location: str,
                                                                     malformed: bool, says: str) -> None:
    with pytest.raises(FhirPatchError) as err:
        run(op("replace", "Patient.birthDate", value={"valueDate": "1981"}), operation)
    assert err.value.location == "Parameters.parameter[1]" + ("." + location if location else "")
    assert err.value.malformed is malformed
    assert says in err.value.message


def test_a_body_is_a_fhirpath_patch_when_it_is_parameters() -> None:
    assert is_fhirpath_patch(patch())
    assert not is_fhirpath_patch([{"op": "remove", "path": "/gender"}])
    with pytest.raises(FhirPatchError) as err:
        apply(PATIENT, {"resourceType": "Bundle"})
    assert err.value.malformed and err.value.location == "Parameters"
