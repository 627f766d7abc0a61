"""A token `:in` standing for more codes than one query can list is refused with a clear 422, not a database
error (SQLite takes at most 32,766 parameters)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from caregate.errors import FhirError
from caregate.fhir.terminology.content import use_stored
from caregate.search.query import MAX_CODE_SET, parse
from caregate.search.registry import default_registry

SYSTEM = "http://example.org/CodeSystem/many"


def _value_set(url: str, count: int) -> list[dict]:
    concepts = [{"code": f"c{i}"} for i in range(count)]
    return [{"resourceType": "CodeSystem", "url": f"{SYSTEM}{count}", "status": "active", "content": "complete",
             "concept": concepts},
            {"resourceType": "ValueSet", "url": url, "status": "active",
             "compose": {"include": [{"system": f"{SYSTEM}{count}"}]}}]


@pytest.fixture()
def stored() -> Iterator[None]:
    use_stored([*_value_set("http://example.org/ValueSet/large", MAX_CODE_SET + 1),
                *_value_set("http://example.org/ValueSet/fits", MAX_CODE_SET)])
    yield
    use_stored([])


def test_a_value_set_too_large_to_search_by_is_refused_naming_the_parameter(stored: None) -> None:
    with pytest.raises(FhirError) as caught:
        parse("Observation", [("code:in", "http://example.org/ValueSet/large")], default_registry(), strict=True,
              base_url="http://x/fhir")
    error = caught.value
    assert error.code == "too-costly"
    assert error.expression == ("code:in",)
    assert "10,001 codes" in error.message


def test_a_value_set_at_the_limit_is_searched(stored: None) -> None:
    query = parse("Observation", [("code:in", "http://example.org/ValueSet/fits")], default_registry(),
                  strict=True, base_url="http://x/fhir")
    assert len(query.clauses[0].values[0].codes) == MAX_CODE_SET
