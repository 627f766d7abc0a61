"""SNOMED CT on the REST API once a release is loaded: terminology operations and token :below/:above search,
on both engines; without a release the same requests say SNOMED CT is not loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from caregate.storage import snomed
from caregate.storage.snomed_load import load_release
from tests.fhir.terminology.rf2 import ACUTE_MI, ASTHMA, CHEST, FINDING, HEART, MI, small_release

pytestmark = pytest.mark.anyio

SCT = "http://snomed.info/sct"
JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
async def loaded(client: httpx.AsyncClient, database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    load_release(database_url, small_release(tmp_path / "release"))
    yield client
    snomed.uninstall()


async def _conditions(client: httpx.AsyncClient) -> None:
    for i, code in enumerate((ACUTE_MI, HEART, ASTHMA, CHEST)):
        cond = {"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": "Patient/p"},
                "code": {"coding": [{"system": SCT, "code": code}]}}
        assert (await client.put(f"/fhir/Condition/c{i}", json=cond, headers=JSON)).status_code == 201


async def _ids(client: httpx.AsyncClient, params: dict[str, str]) -> list[str]:
    r = await client.get("/fhir/Condition", params=params)
    assert r.status_code == 200, r.text
    return sorted(e["resource"]["id"] for e in r.json().get("entry", ()))


async def test_token_below_and_above_over_a_loaded_release(loaded: httpx.AsyncClient) -> None:
    await _conditions(loaded)
    assert await _ids(loaded, {"code:below": f"{SCT}|{HEART}"}) == ["c0", "c1", "c3"]
    assert await _ids(loaded, {"code:below": f"{SCT}|{MI}"}) == ["c0"]
    assert await _ids(loaded, {"code:above": f"{SCT}|{ACUTE_MI}"}) == ["c0", "c1"]
    assert await _ids(loaded, {"code:in": f"{SCT}?fhir_vs=isa/{FINDING}"}) == ["c0", "c1", "c2", "c3"]


async def test_token_below_without_a_release_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/fhir/Condition", params={"code:below": f"{SCT}|{HEART}"})
    assert r.status_code == 422 and "hierarchy" in r.json()["issue"][0]["diagnostics"]
    snomed.uninstall()


async def test_operations_over_http(loaded: httpx.AsyncClient) -> None:
    r = await loaded.get("/fhir/ValueSet/$expand", params={"url": f"{SCT}?fhir_vs=isa/{HEART}", "filter": "heart"})
    assert r.status_code == 200, r.text
    assert [c["code"] for c in r.json()["expansion"]["contains"]] == [HEART, MI, CHEST]  # CHEST: "of heart and lung"
    r = await loaded.get("/fhir/CodeSystem/$lookup", params={"system": SCT, "code": MI})
    assert r.status_code == 200 and {"name": "display", "valueString": "Myocardial infarction"} in r.json()["parameter"]
    r = await loaded.get("/fhir/CodeSystem/$subsumes", params={"system": SCT, "codeA": HEART, "codeB": CHEST})
    assert r.json()["parameter"] == [{"name": "outcome", "valueCode": "subsumes"}]
    r = await loaded.get("/fhir/ValueSet/$validate-code", params={"url": f"{SCT}?fhir_vs=isa/{HEART}",
                                                                   "system": SCT, "code": ASTHMA})
    assert r.json()["parameter"][0] == {"name": "result", "valueBoolean": False}


async def test_token_below_too_wide_a_concept_is_refused(loaded: httpx.AsyncClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snomed, "MAX_LISTED", 3)
    r = await loaded.get("/fhir/Condition", params={"code:below": f"{SCT}|{FINDING}"})
    assert r.status_code == 422 and r.json()["issue"][0]["code"] == "too-costly"
    assert (await loaded.get("/fhir/Condition", params={"code:below": f"{SCT}|{MI}"})).status_code == 200
