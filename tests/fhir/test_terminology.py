"""The terminology library: shipped content of FHIR R4 and UK Core, and ValueSet expansion rules."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from caregate.errors import FhirError
from caregate.fhir.terminology import NotExpandable, code_system, expand, expand_url, value_set
from caregate.fhir.terminology.operations import expand_operation, lookup, subsumes

DATA = Path(__file__).resolve().parents[2] / "src" / "caregate" / "fhir" / "data" / "terminology.json.gz"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def _all_value_sets() -> list[str]:
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        return sorted(json.load(handle)["valuesets"])


def test_every_shipped_value_set_expands_or_says_why_not() -> None:
    urls = _all_value_sets()
    expanded, reasons = 0, set()
    for url in urls:
        try:
            expand_url(url)
            expanded += 1
        except NotExpandable as exc:
            reasons.add(str(exc))
    assert len(urls) > 1400 and sum(u.startswith("https://fhir.hl7.org.uk/") for u in urls) > 100
    assert expanded > 700  # the rest need SNOMED CT, LOINC, dm+d or other external content, and say so
    assert any("SNOMED CT" in r for r in reasons) and any("dm+d" in r for r in reasons)


def test_uk_core_code_systems_are_shipped() -> None:
    cs = code_system("https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType")
    assert cs is not None and cs.display["UPRN"] == "Unique Property Reference Number"


def test_compose_rules_is_not_a_and_value_set_intersection() -> None:
    vs = {"resourceType": "ValueSet", "compose": {"include": [
        {"system": ACT_CODE, "filter": [{"property": "concept", "op": "is-a", "value": "_ActEncounterCode"},
                                        {"property": "concept", "op": "is-not-a", "value": "IMP"}]}]}}
    codes = {c for _, c, _ in expand(vs)}
    assert "AMB" in codes and "IMP" not in codes and "ACUTE" not in codes  # ACUTE is an inpatient encounter
    both = {"resourceType": "ValueSet", "compose": {"include": [{
        "system": ACT_CODE, "concept": [{"code": "AMB"}, {"code": "IMP"}, {"code": "_ActAccountCode"}],
        "valueSet": ["http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"]}]}}
    assert [c for _, c, _ in expand(both)] == ["AMB", "IMP"]


def test_snomed_value_sets_say_snomed() -> None:
    with pytest.raises(NotExpandable, match="SNOMED CT"):
        expand_url("http://hl7.org/fhir/ValueSet/clinical-findings")


def test_operations_as_a_library() -> None:
    vs = value_set("http://hl7.org/fhir/ValueSet/administrative-gender")
    assert vs is not None
    page = expand_operation(vs, {"count": "1", "offset": "3"}, "2026-01-01T00:00:00Z")["expansion"]
    assert page["total"] == 4 and [c["code"] for c in page["contains"]] == ["unknown"]
    assert lookup({"system": ACT_CODE, "code": "IMP"})["parameter"][2] == {"name": "display",
                                                                             "valueString": "inpatient encounter"}
    assert subsumes({"system": ACT_CODE, "codeA": "IMP", "codeB": "IMP"})["parameter"][0]["valueCode"] == "equivalent"
    with pytest.raises(FhirError) as err:
        lookup({"system": "http://example.org/unknown", "code": "x"})
    assert err.value.category == "not-found"
