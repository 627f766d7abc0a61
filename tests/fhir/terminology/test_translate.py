"""ConceptMap $translate as a library call, over the ConceptMaps of FHIR R4 and UK Core."""

from __future__ import annotations

import pytest

from caregate.errors import FhirError
from caregate.fhir.terminology.content import concept_maps
from caregate.fhir.terminology.translate import translate

GENDER = "http://hl7.org/fhir/administrative-gender"
V3_GENDER = "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender"
V3_GENDER_VS = "http://terminology.hl7.org/ValueSet/v3-AdministrativeGender"


def _matches(out: dict) -> list[dict]:
    return [{p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in m["part"]
             if any(k.startswith("value") for k in p)} for m in out["parameter"] if m["name"] == "match"]


def _result(out: dict) -> bool:
    return out["parameter"][0] == {"name": "result", "valueBoolean": True}


def test_every_base_and_uk_core_concept_map_is_shipped() -> None:
    urls = {cm["url"] for cm in concept_maps()}
    assert len(urls) == 22
    assert "http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v3" in urls
    assert "https://fhir.hl7.org.uk/ConceptMap/ConceptMap-UKCore-MaritalStatus" in urls


def test_forward_by_target_value_set() -> None:
    out = translate({"system": GENDER, "code": "female", "target": V3_GENDER_VS})
    assert _result(out)
    assert _matches(out) == [{"equivalence": "equal", "concept": {"system": V3_GENDER, "code": "F"},
                              "source": "http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v3"}]


def test_uk_core_map_with_coding_input() -> None:
    out = translate({"coding": {"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "L"},
                     "url": "https://fhir.hl7.org.uk/ConceptMap/ConceptMap-UKCore-MaritalStatus"})
    (match,) = _matches(out)
    assert match["equivalence"] == "equivalent" and match["concept"]["code"] == "P"
    assert match["concept"]["display"] == "Separated"


def test_reverse_finds_the_source_code() -> None:
    out = translate({"system": V3_GENDER, "code": "F", "reverse": "true", "target": "http://hl7.org/fhir/ValueSet/"
                     "administrative-gender"})
    assert [m["concept"] for m in _matches(out)] == [{"system": GENDER, "code": "female"}]


def test_reverse_turns_wider_into_narrower() -> None:
    cm = {"resourceType": "ConceptMap", "url": "http://example.org/cm", "status": "draft", "group": [{
        "source": "http://example.org/a", "target": "http://example.org/b",
        "element": [{"code": "x1", "target": [{"code": "X", "equivalence": "wider"}]}]}]}
    forward = translate({"system": "http://example.org/a", "code": "x1", "conceptMap": cm})
    back = translate({"system": "http://example.org/b", "code": "X", "conceptMap": cm, "reverse": True})
    assert _matches(forward)[0]["equivalence"] == "wider" and _matches(back)[0]["equivalence"] == "narrower"
    assert _matches(back)[0]["concept"] == {"system": "http://example.org/a", "code": "x1"}


def test_unmapped_fixed_answers_for_unlisted_codes() -> None:
    out = translate({"url": "http://hl7.org/fhir/ConceptMap/101", "system": "http://hl7.org/fhir/address-use",
                     "code": "anything-else"})
    assert _result(out)
    assert _matches(out)[0]["equivalence"] == "inexact" and _matches(out)[0]["concept"]["code"] == "temp"


def test_unmatched_target_is_result_false_with_message() -> None:
    cm = {"resourceType": "ConceptMap", "url": "http://example.org/cm", "status": "draft", "group": [{
        "source": "http://example.org/a", "target": "http://example.org/b",
        "element": [{"code": "x1", "target": [{"equivalence": "unmatched", "comment": "no equivalent"}]}]}]}
    out = translate({"system": "http://example.org/a", "code": "x1", "conceptMap": cm})
    assert out["parameter"][0] == {"name": "result", "valueBoolean": False}
    assert "only unmatched or disjoint" in out["parameter"][1]["valueString"]
    assert _matches(out) == [{"equivalence": "unmatched", "source": "http://example.org/cm"}]


def test_products_are_returned() -> None:
    cm = {"resourceType": "ConceptMap", "url": "http://example.org/cm", "status": "draft", "group": [{
        "source": "http://example.org/a", "target": "http://example.org/b",
        "element": [{"code": "x1", "target": [{"code": "X", "equivalence": "equivalent", "product": [
            {"property": "http://example.org/prop", "system": "http://example.org/c", "value": "P1"}]}]}]}]}
    out = translate({"system": "http://example.org/a", "code": "x1", "conceptMap": cm})
    (match,) = [m for m in out["parameter"] if m["name"] == "match"]
    product = next(p for p in match["part"] if p["name"] == "product")
    assert product["part"] == [{"name": "element", "valueUri": "http://example.org/prop"},
                               {"name": "concept", "valueCoding": {"system": "http://example.org/c", "code": "P1"}}]


def test_no_mapping_says_so() -> None:
    out = translate({"system": GENDER, "code": "no-such-code"})
    assert out["parameter"][0]["valueBoolean"] is False
    assert out["parameter"][1]["valueString"] == f"No ConceptMap this server holds maps {GENDER}#no-such-code."


def test_bad_input_is_refused() -> None:
    with pytest.raises(FhirError) as err:
        translate({"code": "female"})
    assert err.value.category == "incorrect"
    with pytest.raises(FhirError) as err:
        translate({"system": GENDER, "code": "female", "url": "http://example.org/none"})
    assert err.value.category == "not-found"
    with pytest.raises(FhirError) as err:
        translate({"system": GENDER, "code": "female", "conceptMap": {"resourceType": "ConceptMap", "status": "x"}})
    assert err.value.category == "incorrect"
