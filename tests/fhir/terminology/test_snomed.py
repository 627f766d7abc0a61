"""SNOMED CT from an RF2 release the user loads: the loader, then every terminology operation over it, on
SQLite and PostgreSQL. The release is a made-up one (rf2.py): caregate ships no SNOMED CT."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from caregate.cli.main import cli
from caregate.errors import FhirError
from caregate.fhir.terminology import expand_url
from caregate.fhir.terminology.content import code_system
from caregate.fhir.terminology.operations import expand_operation, lookup, subsumes, validate_code_cs
from caregate.storage import snomed
from caregate.storage.snomed_load import Rf2Error, load_release
from tests.fhir.terminology.rf2 import (
    ACUTE_MI,
    ASTHMA,
    CHEST,
    FINDING,
    HEART,
    LUNG,
    MI,
    OLD_MI,
    PROCEDURE,
    RETIRED,
    ROOT,
    SITE,
    small_release,
)

SCT = "http://snomed.info/sct"


def _params(out: dict) -> dict:
    return {p["name"]: next((v for k, v in p.items() if k.startswith("value")), None) for p in out["parameter"]}


def _is_a(code: str) -> dict:
    return {"resourceType": "ValueSet", "url": "http://example.org/vs", "status": "active",
            "compose": {"include": [{"system": SCT, "filter": [{"property": "concept", "op": "is-a", "value": code}]}]}}


def _codes(out: dict) -> list[str]:
    return [c["code"] for c in out["expansion"].get("contains", ())]


def test_load_keeps_active_rows_and_is_a_only(loaded: str) -> None:
    cs = code_system(SCT)
    assert cs is not None and cs.complete
    assert len(cs.display) == 11  # the retired concept is left out
    assert RETIRED not in cs.display
    assert cs.display[MI] == "Myocardial infarction"  # the preferred synonym, not the FSN
    assert cs.parents.get(CHEST) == tuple(sorted((HEART, LUNG)))
    assert cs.parents.get(SITE) == (ROOT,)  # the finding-site and the inactive is-a rows are not hierarchy
    assert sorted(cs.descendants(HEART)) == sorted([MI, ACUTE_MI, OLD_MI, CHEST])
    assert sorted(cs.ancestors(ACUTE_MI)) == sorted([MI, HEART, FINDING, ROOT])


def test_lookup_validate_code_and_subsumes(loaded: str) -> None:
    out = _params(lookup({"system": SCT, "code": MI}))
    assert out["display"] == "Myocardial infarction" and out["name"] == "SNOMED CT"
    assert out["version"] == "http://snomed.info/sct/999000011000000103/version/20260101"
    assert _params(validate_code_cs({"url": SCT, "code": ASTHMA}))["result"] is True
    assert _params(validate_code_cs({"url": SCT, "code": RETIRED}))["result"] is False
    assert _params(validate_code_cs({"url": SCT, "code": MI, "display": "Asthma"}))["result"] is False
    outcome = [_params(subsumes({"system": SCT, "codeA": a, "codeB": b}))["outcome"]
               for a, b in ((HEART, CHEST), (CHEST, LUNG), (MI, MI), (LUNG, MI))]
    assert outcome == ["subsumes", "subsumed-by", "equivalent", "not-subsumed"]
    with pytest.raises(FhirError) as err:
        lookup({"system": SCT, "code": "123"})
    assert err.value.category == "not-found"


def test_expand_is_a_with_text_filter_and_paging(loaded: str) -> None:
    everything = expand_operation(_is_a(FINDING), {}, "2026-01-01T00:00:00Z")
    assert everything["expansion"]["total"] == 8
    assert set(_codes(everything)) == {FINDING, HEART, MI, ACUTE_MI, OLD_MI, LUNG, ASTHMA, CHEST}
    heart = expand_operation(_is_a(FINDING), {"filter": "heart attack"}, "2026-01-01T00:00:00Z")
    assert _codes(heart) == [MI]  # found by its synonym
    infarction = expand_operation(_is_a(FINDING), {"filter": "infarc", "count": "2"}, "2026-01-01T00:00:00Z")
    assert infarction["expansion"]["total"] == 3 and len(_codes(infarction)) == 2
    rest = expand_operation(_is_a(FINDING), {"filter": "infarc", "count": "2", "offset": "2"}, "x")
    assert len(_codes(rest)) == 1 and set(_codes(rest)).isdisjoint(_codes(infarction))
    assert _codes(expand_operation(_is_a(FINDING), {"filter": "retired"}, "x")) == []


def test_descendent_of_and_implicit_value_sets(loaded: str) -> None:
    vs = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [
        {"system": SCT, "filter": [{"property": "concept", "op": "descendent-of", "value": MI}]}]}}
    assert sorted(c for _, c, _ in expand_url_of(vs)) == sorted([ACUTE_MI, OLD_MI])
    implicit = sorted(c for _, c, _ in expand_url(f"{SCT}?fhir_vs=isa/{LUNG}"))
    assert implicit == sorted([LUNG, ASTHMA, CHEST])
    assert len(expand_url(f"{SCT}?fhir_vs")) == 11
    ecl = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [
        {"system": SCT, "filter": [{"property": "constraint", "op": "=", "value": f"<< {PROCEDURE} |Procedure|"}]}]}}
    assert [c for _, c, _ in expand_url_of(ecl)] == [PROCEDURE]


def expand_url_of(vs: dict) -> list[tuple[str, str, str]]:
    from caregate.fhir.terminology import expand

    return expand(vs)


def test_cli_loads_and_reports(database_url: str, tmp_path: Path) -> None:
    release = small_release(tmp_path / "release")
    result = CliRunner().invoke(cli, ["terminology", "load-snomed", str(release), "--database", database_url])
    assert result.exit_code == 0, result.output
    assert "11 concepts" in result.output and "11 is-a relationships" in result.output
    (tmp_path / "empty").mkdir()
    bad = CliRunner().invoke(cli, ["terminology", "load-snomed", str(tmp_path / "empty"), "--database", database_url])
    assert bad.exit_code == 2 and "sct2_Concept_Snapshot" in bad.output


def test_a_broken_release_changes_nothing(database_url: str, tmp_path: Path) -> None:
    load_release(database_url, small_release(tmp_path / "good"))
    broken = small_release(tmp_path / "broken")
    rel = next(broken.rglob("sct2_Relationship_Snapshot*.txt"))
    rel.write_text(rel.read_text() + "only\tthree\tcolumns\r\n")
    with pytest.raises(Rf2Error, match="columns"):
        load_release(database_url, broken)
    snomed.install(database_url)
    try:
        cs = code_system(SCT)
        assert cs is not None and len(cs.display) == 11
    finally:
        snomed.uninstall()


def test_without_a_release_snomed_still_says_not_loaded(database_url: str) -> None:
    snomed.install(database_url)
    try:
        cs = code_system(SCT)
        assert cs is not None and not cs.complete
    finally:
        snomed.uninstall()


def test_value_set_validate_code_asks_the_database(loaded: str) -> None:
    from caregate.fhir.terminology.operations import validate_code_vs

    assert _params(validate_code_vs(_is_a(HEART), {"system": SCT, "code": CHEST})) == {
        "result": True, "display": "Cardiopulmonary disease"}
    assert _params(validate_code_vs(_is_a(HEART), {"system": SCT, "code": ASTHMA}))["result"] is False
    assert _params(validate_code_vs(_is_a(HEART), {"system": "http://example.org", "code": MI}))["result"] is False
    wrong = _params(validate_code_vs(_is_a(HEART), {"coding": {"system": SCT, "code": MI, "display": "Asthma"}}))
    assert wrong["result"] is False and wrong["display"] == "Myocardial infarction"


def test_a_large_expansion_needs_count(loaded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from caregate.fhir.terminology import operations

    monkeypatch.setattr(operations, "MAX_EXPANSION", 5)
    with pytest.raises(FhirError) as err:
        expand_operation(_is_a(ROOT), {}, "x")
    assert err.value.code == "too-costly" and "11 concepts" in str(err.value)
    assert len(_codes(expand_operation(_is_a(ROOT), {"count": "5"}, "x"))) == 5
