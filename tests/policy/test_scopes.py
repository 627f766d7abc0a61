"""SMART scope parsing, v2 and v1, and the decisions made from them (table-driven)."""

from __future__ import annotations

import pytest

from caregate.policy import Actor, ScopeError, access, parse_scope, parse_scopes
from caregate.policy.decide import allowed_types


@pytest.mark.parametrize(("text", "context", "type_", "letters", "query"), [
    ("patient/Observation.rs", "patient", "Observation", "rs", ()),
    ("user/*.cruds", "user", "*", "cruds", ()),
    ("system/Patient.r", "system", "Patient", "r", ()),
    ("patient/Observation.rs?category=laboratory", "patient", "Observation", "rs", (("category", "laboratory"),)),
    ("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
     "patient", "Observation", "rs",
     (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),)),
    ("patient/*.read", "patient", "*", "rs", ()),
    ("user/Observation.write", "user", "Observation", "cud", ()),
    ("system/*.*", "system", "*", "cruds", ()),
    ("user/Condition.cu", "user", "Condition", "cu", ()),
])
def test_clinical_scopes_parse(text: str, context: str, type_: str, letters: str, query: tuple) -> None:
    scope = parse_scope(text)
    assert scope is not None
    assert (scope.context, scope.type, scope.letters, scope.query) == (context, type_, frozenset(letters), query)


@pytest.mark.parametrize("text", ["openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access",
                                  "online_access"])
def test_other_scopes_are_not_clinical(text: str) -> None:
    assert parse_scope(text) is None


@pytest.mark.parametrize("text", ["patient/Observation.sr", "patient/Observation.rr", "patient/Foo.rs",
                                  "user/Observation.x", "patient/Observation.read?code=1", "patient/Observation.rs?",
                                  "patient/Observation"])
def test_malformed_clinical_scopes_are_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_scope_string_splits_clinical_and_other() -> None:
    clinical, other = parse_scopes("openid fhirUser launch/patient patient/*.rs")
    assert [s.text for s in clinical] == ["patient/*.rs"]
    assert other == ["openid", "fhirUser", "launch/patient"]


def _actor(scope: str, patient: str | None = "p1") -> Actor:
    return Actor.from_scope_string("someone", "app", scope, patient=patient)


@pytest.mark.parametrize(("scope", "type_", "letter", "allowed", "confined"), [
    ("patient/Observation.rs", "Observation", "r", True, "p1"),
    ("patient/Observation.rs", "Observation", "s", True, "p1"),
    ("patient/Observation.rs", "Observation", "c", False, None),
    ("patient/Observation.rs", "Condition", "r", False, None),
    ("patient/*.read", "Condition", "s", True, "p1"),
    ("patient/*.read", "Condition", "u", False, None),
    ("user/*.cruds", "Patient", "d", True, None),
    ("patient/*.rs user/Observation.rs", "Observation", "s", True, None),
    ("patient/*.rs user/Observation.rs", "Condition", "s", True, "p1"),
    ("system/Patient.r", "Patient", "r", True, None),
    ("system/Patient.r", "Patient", "s", False, None),
])
def test_access_decisions(scope: str, type_: str, letter: str, allowed: bool, confined: str | None) -> None:
    decision = access(_actor(scope), type_, letter)
    assert decision.allowed is allowed
    assert decision.patient == confined
    if not allowed:
        assert decision.reason


def test_patient_scopes_without_a_patient_grant_nothing() -> None:
    decision = access(_actor("patient/*.rs", patient=None), "Observation", "r")
    assert not decision.allowed
    assert "patient" in decision.reason


def test_query_constraints_are_carried_when_every_granting_scope_has_one() -> None:
    decision = access(_actor("patient/Observation.rs?category=laboratory"), "Observation", "s")
    assert decision.constraints == ((("category", "laboratory"),),)
    wider = access(_actor("patient/Observation.rs?category=laboratory patient/Observation.rs"), "Observation", "s")
    assert wider.constraints == ()


def test_allowed_types() -> None:
    assert allowed_types(_actor("patient/Observation.rs user/Condition.r"), "s") == ("Observation",)
    assert allowed_types(_actor("patient/*.rs"), "s") is None
