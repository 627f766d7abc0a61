"""The UK Core examples (`../shared/uk-core/examples/`, XML) validate without errors against the R4 base.

UK Core profiles themselves are not loaded yet, so each example is checked against the base definitions of its
resource type (its declared profile gives a warning). Three examples carry real defects, listed with them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from caregate.fhir.validate import validate
from caregate.fhir.xmlformat import parse_xml

KNOWN_DEFECTS = {
    "Extension-UKCore-ConditionEpisode-Example.xml": "an extension with both valueCode and valueCodeableConcept",
    "UKCore-Bundle-NEWS2Observations-Example.xml": "relative fullUrl values (Observation/...)",
    "UKCore-Patient-BabyPatient-Example.xml": "NHS number 9912003890 fails the Modulus 11 check (digit 6 expected)",
}


def test_uk_core_examples_have_no_base_errors(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted((shared_dir / "uk-core" / "examples").glob("*.xml"))
    if not files:
        pytest.skip("no UK Core examples in ../shared/uk-core/examples")
    failing = {}
    for path in files:
        errors = [f"{i.expression[0]}: {i.diagnostics}" for i in validate(parse_xml(path.read_bytes()))
                  if i.severity == "error"]
        if errors:
            failing[path.name] = errors[0]
    with capsys.disabled():
        print(f"\nUK Core examples: {len(files) - len(failing)}/{len(files)} without base errors")
        for name, first in sorted(failing.items()):
            print(f"  {name}: {first}")
    assert len(files) >= 200
    assert set(failing) == set(KNOWN_DEFECTS)
