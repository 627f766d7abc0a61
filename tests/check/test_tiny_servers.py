"""The checker against small servers that break (or keep) chosen rules: the right failures, and no crash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.check.tiny import PATIENT_TOKEN, TOKEN, Serving, broken_app, export_app, leaky_app, secured_app


@pytest.fixture
def broken():
    s = Serving(broken_app())
    yield s
    s.stop()


@pytest.fixture
def secured():
    s = Serving(secured_app())
    yield s
    s.stop()


def _check(base: str, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "caregate", "check", base, "--json", str(out),
                           "--junit", str(tmp_path / "r.xml"), "--report", str(tmp_path / "r.html"), *extra],
                          capture_output=True, text=True, timeout=300)
    return proc, json.loads(out.read_text())


def test_a_broken_server_gets_the_right_failures(broken: Serving, tmp_path: Path) -> None:
    proc, report = _check(broken.base, tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    verdicts = {t["id"]: (t["verdict"], t["mandatory"], t["message"]) for t in report["tests"]}
    failed = {k for k, v in verdicts.items() if v[0] == "fail" and v[1]}
    assert {"capability.fhir-version",   # declares 3.0.2
            "rest.read",                 # no ETag
            "rest.read-unknown",         # plain-text 404
            "rest.no-stack-traces",      # a Python traceback in a 500
            "search.Patient",            # every parameter ignored
            "search.string-modifiers",   # :exact ignored too
            } <= failed, verdicts
    assert "ignored or mismatched" in verdicts["search.Patient"][2]
    # nothing declared, nothing demanded: an undeclared feature is a skip, not a failure
    assert verdicts["rest.transaction"][0] == "skip" and verdicts["realtime.rest-hook"][0] == "skip"
    assert verdicts["capability.formats"][0] == "pass"
    assert report["findings"] and report["findings"][0].startswith("NOT SECURED")
    assert report["conformant"] is False
    assert "Does not meet the standards" in (tmp_path / "r.html").read_text()


def test_a_secured_server_passes_the_security_suite(secured: Serving, tmp_path: Path) -> None:
    proc, report = _check(secured.base, tmp_path, "--suite", "security", "--token", TOKEN)
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdicts = {t["id"]: t["verdict"] for t in report["tests"]}
    assert {k for k, v in verdicts.items() if v == "pass"} >= {
        "security.smart-discovery", "security.no-token", "security.www-authenticate", "security.bad-token",
        "security.unsigned-token", "security.tampered-token", "security.token-accepted"}
    assert verdicts["security.tls"] == "skip"  # loopback
    assert report["findings"] == []
    text = (tmp_path / "report.json").read_text() + (tmp_path / "r.xml").read_text() + \
        (tmp_path / "r.html").read_text()
    assert TOKEN not in text, "the token never reaches a report"


def test_backend_services_credentials_get_the_checker_its_own_token(tmp_path: Path) -> None:
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048)
    pem = tmp_path / "client.pem"
    pem.write_bytes(key.as_pem(private=True))
    server = Serving(secured_app("checker-client", RSAKey.import_key(key.as_dict(private=False))))
    try:
        proc, report = _check(server.base, tmp_path, "--suite", "security", "--client-id", "checker-client",
                              "--private-key", str(pem))
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdicts = {t["id"]: t["verdict"] for t in report["tests"]}
    assert {k for k, v in verdicts.items() if v == "pass"} >= {
        "security.backend-services", "security.expired-assertion", "security.foreign-key",
        "security.assertion-replay", "security.token-accepted", "security.tampered-token"}
    text = (tmp_path / "report.json").read_text() + (tmp_path / "r.html").read_text()
    assert TOKEN not in text and "client_assertion=eyJ" not in text


def test_patient_token_leaks_are_found_route_by_route(tmp_path: Path) -> None:
    server = Serving(leaky_app())
    try:
        proc, report = _check(server.base, tmp_path, "--suite", "security", "--read-only", "--token", TOKEN,
                              "--patient-token", PATIENT_TOKEN)
    finally:
        server.stop()
    assert proc.returncode == 1, proc.stderr[-3000:]
    verdicts = {t["id"]: (t["verdict"], t["message"]) for t in report["tests"] if "patient-" in t["id"]}
    assert verdicts["security.patient-own"][0] == "pass"
    assert verdicts["security.patient-read"][0] == "pass"
    assert verdicts["security.patient-history"][0] == "pass"
    assert verdicts["security.patient-search"][0] == "fail"
    assert "Observation?subject=Patient/p2" in verdicts["security.patient-search"][1]
    assert verdicts["security.patient-include"][0] == "fail"
    assert PATIENT_TOKEN not in (tmp_path / "report.json").read_text()


@pytest.mark.parametrize("broken_line", [False, True])
def test_a_bulk_export_is_followed_to_its_files(tmp_path: Path, broken_line: bool) -> None:
    server = Serving(export_app(broken_line))
    try:
        proc, report = _check(server.base, tmp_path, "--suite", "bulk")
    finally:
        server.stop()
    verdicts = {t["id"]: (t["verdict"], t["message"]) for t in report["tests"]}
    assert verdicts["bulk.export"] == ("pass", "2 output files")
    if broken_line:
        assert proc.returncode == 1
        assert verdicts["bulk.ndjson"] == ("fail", "Observation file line 2 holds a Patient")
    else:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert verdicts["bulk.ndjson"] == ("pass", "3 resources valid in 2 files")


def test_an_unreachable_server_is_errors_not_a_crash(tmp_path: Path) -> None:
    from tests.e2e.server import free_port

    proc, report = _check(f"http://127.0.0.1:{free_port()}/fhir", tmp_path, "--suite", "capability")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert report["tests"][0]["verdict"] == "error"
    assert "could not be reached" in report["tests"][0]["message"]
