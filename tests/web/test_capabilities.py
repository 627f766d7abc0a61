"""Everything the CapabilityStatement declares must work: every search parameter of every type answers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

SAMPLE = {"reference": "Patient/1", "string": "a", "composite": "x$2020",
          "token": "http://x|y", "date": "ge2020-01", "number": "1", "quantity": "5||mg",
          "uri": "http://example.org/x"}


async def test_every_declared_search_parameter_answers(client) -> None:
    cs = (await client.get("/fhir/metadata")).json()
    declared = 0
    failures = []
    for res in cs["rest"][0]["resource"]:
        for param in res["searchParam"]:
            value = SAMPLE.get(param["type"], "x")
            r = await client.get(f"/fhir/{res['type']}", params={param["name"]: value},
                                 headers={"Prefer": "handling=strict"})
            declared += 1
            if r.status_code != 200:
                failures.append((res["type"], param["name"], r.status_code, r.text[:200]))
    print(f"{declared} declared search parameters checked")
    assert declared > 1000
    assert failures == []
