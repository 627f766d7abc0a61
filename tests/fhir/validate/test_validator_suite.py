"""Agreement with the HL7 (Java) reference validator on the R4 cases of its own test suite.

`../shared/testsuites/validator-r4/` holds the inputs and the OperationOutcome the reference validator gives for
each (README there). A case is invalid when that outcome has an error or fatal issue. Left out, with the reason
printed: cases run with a non-default validator option (manifest keys such as `validateReference`), and cases
whose every expected error needs a terminology server (display names, SNOMED CT or LOINC codes) or packages we do
not have (extension and profile definitions of later versions, snapshot generation). On the rest, the test
prints the agreement rate with the valid/invalid verdict and lists each disagreement.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from caregate.fhir.validate import has_errors, validate
from caregate.fhir.xmlformat import parse_xml

OPTIONS = {"validateReference", "generate-shapshot", "validateContains", "security-checks", "assumeValidRestReferences",
           "allowed-extension-domain", "noHtmlInMarkdown", "no-experimental-content", "ips", "examples",
           "r5-bundle-relative-reference-policy", "best-practice"}
# Expected errors that need a terminology server or packages beyond the R4 core definitions.
EXTERNAL = ("Wrong Display Name", "Unknown code", "could not be found so is not allowed", "is not allowed to be used",
            "Slice '", "Sub-extension", "5.3.0", "Snapshot", "derivedFrom", "Unable to resolve resource",
            "None of the codings provided are in the value set", "is not in the value set", "Profile http",
            "SearchParameter", "search expression", "Example URLs are not allowed")
FLOOR = 0.95  # just under the measured agreement; raise it as the validator learns more rules


def _expected(outcome: dict) -> tuple[bool, list[str]]:
    if "issue" in outcome:
        errors = [i.get("details", {}).get("text") or i.get("diagnostics") or ""
                  for i in outcome["issue"] if i.get("severity") in ("error", "fatal")]
        return bool(errors), errors
    return outcome.get("errorCount", 0) > 0, []


def _load(path: Path) -> object:
    raw = path.read_bytes()
    return parse_xml(raw) if path.suffix == ".xml" else orjson.loads(raw)


def test_agreement_with_the_reference_validator(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = shared_dir / "testsuites" / "validator-r4"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    skipped: list[str] = []
    agree: list[str] = []
    disagree: list[str] = []
    for case in json.loads((root / "manifest.json").read_text()):
        name = case["name"]
        source = root / "cases" / case["file"]
        expected_file = root / "cases" / "outcomes" / f"java_R4.{name}-base.json"
        if not source.exists() or not expected_file.exists():
            skipped.append(f"{name}: no input or no expected outcome")
            continue
        if OPTIONS & set(case):
            skipped.append(f"{name}: runs with {', '.join(sorted(OPTIONS & set(case)))}")
            continue
        invalid, errors = _expected(json.loads(expected_file.read_text()))
        if errors and all(any(marker in e for marker in EXTERNAL) for e in errors):
            skipped.append(f"{name}: every expected error needs terminology or packages")
            continue
        try:
            issues = validate(_load(source))
            ours, first = has_errors(issues), next((f"{i.expression[0]}: {i.diagnostics}" for i in issues
                                                     if i.severity == "error"), "")
        except ValueError as exc:  # input that does not even parse is invalid
            ours, first = True, f"unreadable: {exc}"
        if ours == invalid:
            agree.append(name)
        else:
            expected_text = errors[0] if errors else "no error"
            disagree.append(f"{name}: reference says {'invalid' if invalid else 'valid'} ({expected_text[:100]}); "
                            f"caregate says {'invalid' if ours else 'valid'} {first[:100]}")
    checked = len(agree) + len(disagree)
    rate = len(agree) / checked
    with capsys.disabled():
        print(f"\nHL7 validator R4 suite: caregate agrees on {len(agree)}/{checked} cases ({rate:.1%}); "
              f"{len(skipped)} left out")
        for line in disagree:
            print(f"  DISAGREE {line}")
        for line in skipped:
            print(f"  skipped {line}")
    assert checked >= 80
    assert rate >= FLOOR
