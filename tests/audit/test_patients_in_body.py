"""The patients an AuditEvent names are found in request and response bodies, JSON and XML alike, only where a
reference, a fullUrl or a Patient resource's own id puts them."""

from __future__ import annotations

import pytest

from caregate.web.audit import patients_in_body


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"subject": {"reference": "Patient/a1"}}', ["a1"]),
    (b'{"subject":{"reference":"http://example.org/fhir/Patient/b2/_history/3"}}', ["b2"]),
    (b'{"fullUrl":"http://example.org/fhir/Patient/c3","resource":{}}', ["c3"]),
    (b'<subject><reference value="Patient/x9"/></subject>', ["x9"]),
    (b'<entry><fullUrl value="http://example.org/fhir/Patient/y8"/></entry>', ["y8"]),
    (b'{"resourceType": "Patient", "id": "q1", "name": [{"family": "Ng"}]}', ["q1"]),
    (b'{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p1"}},'
     b'{"resource":{"subject":{"reference":"Patient/p2"}}}]}', ["p1", "p2"]),
])
def test_patients_are_found(body: bytes, expected: list[str]) -> None:
    assert patients_in_body(body) == expected


@pytest.mark.parametrize("body", [
    b'{"fullUrl":"Patient/c3"}',  # a fullUrl is absolute
    b'{"reference":"RelatedPatient/x"}',  # another type whose name ends in Patient
    b'{"reference":"#Patient/l"}',  # a contained resource's local id
    b'{"display":"Patient/zz"}',  # text, not a reference
    b'{"text":"Patient","id":"no"}',  # the word, not a resource type
])
def test_other_mentions_are_not_patients(body: bytes) -> None:
    assert patients_in_body(body) == []
