"""Flattening a privacy Consent into rules (https://hl7.org/fhir/R4/consent.html): which provisions give rules,
with which conditions, and where each sits in the tree of exceptions."""

from __future__ import annotations

import pytest

from caregate.fhir.consent_rules import Rule, Term, flatten, in_force

SCOPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]}
ME = {"reference": {"reference": "Practitioner/drwho"}}


def _consent(provision: dict, **extra: object) -> dict:
    return {"resourceType": "Consent", "status": "active", "scope": SCOPE, "patient": {"reference": "Patient/p1"},
            "provision": provision, **extra}


def test_a_deny_base_with_a_nested_permit_and_a_deny_inside_it() -> None:
    rules = flatten(_consent({"type": "deny", "provision": [{
        "type": "permit", "actor": [ME],
        "provision": [{"type": "deny", "class": [{"system": "http://hl7.org/fhir/resource-types",
                                                  "code": "Observation"}]}]}]}))
    assert rules == [
        Rule("p1", "/", "deny"),
        Rule("p1", "/1/", "permit", (Term("/1/actor", "actor", "Practitioner", "drwho"),)),
        Rule("p1", "/1/1/", "deny", (Term("/1/actor", "actor", "Practitioner", "drwho"),
                                     Term("/1/1/class", "class", "http://hl7.org/fhir/resource-types",
                                          "Observation"))),
    ]


def test_a_permit_base_is_the_exception_to_denying_everything_else() -> None:
    rules = flatten(_consent({"type": "permit", "purpose": [{"code": "TREAT"}]}))
    assert [(r.path, r.effect) for r in rules] == [("", "deny"), ("/", "permit")]
    assert rules[1].terms == (Term("/purpose", "purpose", None, "TREAT"),)


@pytest.mark.parametrize("provision, terms", [
    ({"type": "deny", "code": [{"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}]},
     (Term("/code", "code", "http://loinc.org", "8867-4"),)),
    ({"type": "deny", "securityLabel": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                                         "code": "R"}]},
     (Term("/security", "security", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R"),)),
    ({"type": "deny", "dataPeriod": {"start": "2020-01-01", "end": "2020-12-31"}},
     (Term("/dataPeriod", "dataPeriod", low="2020-01-01", high="2020-12-31"),)),
    ({"type": "deny", "actor": [{"role": {"text": "any nurse"}}]}, (Term("/actor", "actor"),)),
    ({"type": "deny", "data": [{"meaning": "instance", "reference": {"reference": "Observation/o1"}}]},
     (Term("/data", "data", "Observation", "o1"),)),
])
def test_conditions_become_terms(provision: dict, terms: tuple) -> None:
    assert flatten(_consent(provision)) == [Rule("p1", "/", "deny", terms)]


@pytest.mark.parametrize("consent", [
    _consent({"type": "deny"}, status="inactive"),
    _consent({"type": "deny"}, status="proposed"),
    {**_consent({"type": "deny"}), "scope": {"coding": [{"system": SCOPE["coding"][0]["system"],
                                                         "code": "research"}]}},
    {**_consent({"type": "deny"}), "patient": {"reference": "Group/g1"}},
    _consent({"type": "deny", "action": [{"coding": [{"code": "collect"}]}]}),
])
def test_consents_that_give_no_rules(consent: dict) -> None:
    assert flatten(consent) == []


def test_in_force_needs_active_privacy_scope() -> None:
    assert in_force(_consent({}))
    assert not in_force({**_consent({}), "scope": {"text": "privacy"}})
