"""`caregate check` against a real `caregate serve` process: every mandatory test passes, reports parse, and
read-only mode writes nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.e2e.server import Server

VERDICTS = {"pass", "fail", "skip", "error"}


@pytest.fixture
def server(database_url: str, tmp_path: Path):
    s = Server(database_url, tmp_path / "server.log", "--demo", "2")
    yield s
    s.stop()


def _check(base: str, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "caregate", "check", base, "--json", str(out),
                           "--junit", str(tmp_path / "report.xml"), "--report", str(tmp_path / "report.html"),
                           *extra], capture_output=True, text=True, timeout=300)
    return proc, json.loads(out.read_text())


def _newest_change(base: str) -> tuple[str, str]:
    bundle = httpx.get(f"{base}/_history", params={"_count": "1"}).json()
    entry = bundle["entry"][0]
    return entry["fullUrl"], entry["resource"]["meta"]["versionId"]


def _counts(base: str) -> dict[str, int]:
    types = ("Patient", "Observation", "Condition", "Encounter", "Subscription", "Organization", "Practitioner")
    return {t: httpx.get(f"{base}/{t}", params={"_summary": "count"}).json()["total"] for t in types}


def test_every_mandatory_test_passes_against_caregate(server: Server, tmp_path: Path) -> None:
    before = _counts(server.base)
    proc, report = _check(server.base, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tests = report["tests"]
    assert len(tests) >= 60
    for t in tests:
        assert {"id", "suite", "title", "requirement", "verdict", "mandatory", "evidence"} <= set(t)
        assert t["verdict"] in VERDICTS and t["requirement"]["link"].startswith("https://")
    failed = [(t["id"], t["message"]) for t in tests if t["mandatory"] and t["verdict"] in ("fail", "error")]
    assert failed == []
    assert [t["id"] for t in tests if t["verdict"] == "error"] == []
    passed = {t["id"] for t in tests if t["verdict"] == "pass"}
    assert len(passed) >= 60
    assert {"capability.fhir-version", "rest.transaction", "rest.if-match", "search.Patient", "search.Observation",
            "ukcore.nhs-number", "ukcore.sctid", "realtime.rest-hook"} <= passed
    # caregate --no-auth declares no security and answers anyone: the suite skips and the report says so first.
    assert {t["verdict"] for t in tests if t["suite"] == "security"} == {"skip"}
    assert report["findings"] and report["findings"][0].startswith("NOT SECURED")
    # Evidence is kept with the requests and responses; the checker cleans up what it created.
    read = next(t for t in tests if t["id"] == "rest.read")
    assert read["evidence"][0]["request"]["method"] == "GET" and read["evidence"][0]["response"]["status"] == 200
    assert _counts(server.base) == before

    junit = ET.parse(tmp_path / "report.xml").getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) == len(tests)
    assert sum(int(s.get("skipped")) for s in junit.findall("testsuite")) == sum(
        t["verdict"] == "skip" for t in tests)

    html = (tmp_path / "report.html").read_text()
    assert html.index("NOT SECURED") < html.index("Score per standard")
    assert not re.search(r"<(script|link|img)\b", html), "the report is one self-contained page"


def test_read_only_mode_makes_no_writes(server: Server, tmp_path: Path) -> None:
    before_change, before_counts = _newest_change(server.base), _counts(server.base)
    proc, report = _check(server.base, tmp_path, "--read-only")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _newest_change(server.base) == before_change
    assert _counts(server.base) == before_counts
    assert report["read_only"] is True
    verdicts = {t["id"]: t["verdict"] for t in report["tests"]}
    assert verdicts["rest.create"] == "skip" and verdicts["rest.transaction"] == "skip"
    # what can be checked by reading still is, on the data the server already holds
    assert verdicts["search.Patient"] == "pass" and verdicts["ukcore.nhs-number"] == "pass"
    for t in report["tests"]:
        for e in t["evidence"]:
            assert e["request"]["method"] in ("GET", "", "POST"), t["id"]
            if e["request"]["method"] == "POST":
                assert e["request"]["url"].split("?")[0].endswith("/_search")
            # a production system's records stay out of the report: statuses and headers only
            body = (e["response"] or {}).get("body")
            assert body is None or body.endswith("response bodies are left out of this report]"), t["id"]
