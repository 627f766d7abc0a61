"""The checker against a FHIR server nobody here wrote: @medplum/fhir-router (npm) with its in-memory repository
behind the small HTTP adapter in medplum/server.mjs. Its real passes and gaps are reported, and nothing crashes.

The npm packages are installed once into a cache folder ($CAREGATE_TEST_CACHE, else ~/.cache/caregate-tests);
without node and npm, or without the registry, the test is skipped and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import free_port

HERE = Path(__file__).resolve().parent / "medplum"


@pytest.fixture(scope="session")
def medplum_dir() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed to run @medplum/fhir-router")
    package = json.loads((HERE / "package.json").read_text())
    version = package["dependencies"]["@medplum/fhir-router"]
    cache = Path(os.environ.get("CAREGATE_TEST_CACHE", Path.home() / ".cache" / "caregate-tests"))
    target = cache / f"medplum-{version}"
    if not (target / "node_modules" / "@medplum" / "fhir-router").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "package.json", target / "package.json")
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.skip(f"npm could not install @medplum/fhir-router {version}: {proc.stderr[-500:]}")
    shutil.copy(HERE / "server.mjs", target / "server.mjs")
    return target


@pytest.fixture
def medplum(medplum_dir: Path, tmp_path: Path):
    port = free_port()
    log = tmp_path / "medplum.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(["node", "server.mjs", str(port)], cwd=medplum_dir, stdout=sink, stderr=sink)
    base = f"http://127.0.0.1:{port}/fhir"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the medplum adapter did not start: {log.read_text(errors='replace')}")
        time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_medplum_fhir_router_gets_real_passes_and_failures(medplum: str, tmp_path: Path) -> None:
    out = tmp_path / "medplum.json"
    proc = subprocess.run([sys.executable, "-m", "caregate", "check", medplum, "--json", str(out),
                           "--junit", str(tmp_path / "medplum.xml"), "--report", str(tmp_path / "medplum.html")],
                          capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, "fhir-router alone has gaps the checker must report"
    report = json.loads(out.read_text())
    verdicts = {t["id"]: t["verdict"] for t in report["tests"]}
    assert [k for k, v in verdicts.items() if v == "error"] == []
    # What it does right (REST basics, conditional writes, JSON Patch, most declared search parameters).
    passed = {k for k, v in verdicts.items() if v == "pass"}
    assert {"capability.fhir-version", "rest.create", "rest.read", "rest.vread", "rest.update", "rest.delete",
            "rest.history", "rest.conditional-create", "rest.conditional-update", "rest.if-match", "rest.batch",
            "rest.patch", "search.Patient", "search.token-forms", "search.date-prefixes"} <= passed
    # Its real gaps, each a rule of the FHIR R4 specification:
    failed = {k for k, v in verdicts.items() if v == "fail"}
    assert {"rest.transaction-atomic",    # a transaction with failing entries kept the good one (200)
            "rest.paging",                # no next link: only the first page can be had
            "search.string-modifiers",    # string search matches anywhere, :exact ignores case
            "search.reference-forms",     # subject=[id] and subject:Patient=[id] find nothing
            "search.quantity",            # value-quantity with units or prefixes finds nothing
            "search.self-link",           # searchset Bundles carry no self link
            "capability.system",          # GET [base]?... without _type is refused
            } <= failed
    assert report["findings"][0].startswith("NOT SECURED")
