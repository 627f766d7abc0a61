"""`caregate check` against `caregate serve` with sign-in: the checker gets its own token as a registered SMART
backend service, every mandatory test passes, and the security suite runs in full, patient-scope probes too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import free_port


def _caregate(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "caregate", *args], capture_output=True, text=True, timeout=300,
                          **kw)


@pytest.fixture
def secured(sqlite_url: str, tmp_path: Path):
    if "clients" not in _caregate("--help").stdout:
        pytest.skip("this caregate has no sign-in yet (no `caregate clients`)")
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048)
    (tmp_path / "checker.pem").write_bytes(key.as_pem(private=True))
    public = {**key.as_dict(private=False), "kid": key.thumbprint(), "alg": "RS384", "use": "sig"}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [public]}))
    added = _caregate("clients", "add", "--name", "Standards checker", "--client-id", "checker", "--jwks",
                      str(tmp_path / "jwks.json"), "--scope", "system/*.cruds", "--database", sqlite_url)
    assert added.returncode == 0, added.stderr
    added = _caregate("clients", "add", "--name", "Patient app", "--client-id", "patient-app", "--jwks",
                      str(tmp_path / "jwks.json"), "--scope", "patient/*.rs", "--database", sqlite_url)
    assert added.returncode == 0, added.stderr
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "caregate", "serve", "--port", str(port), "--database",
                             sqlite_url, "--demo", "2"], stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, "CAREGATE_ACCESS_LOG": "0"})
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail((tmp_path / "server.log").read_text(errors="replace"))
        time.sleep(0.05)
    system = _caregate("token", "issue", "--client", "checker", "--scope", "system/*.rs", "--database",
                       sqlite_url).stdout.split()[-1]
    bundle = httpx.get(f"http://127.0.0.1:{port}/fhir/Patient", params={"_count": "1"},
                       headers={"Authorization": f"Bearer {system}"}).json()
    own = bundle["entry"][0]["resource"]["id"]
    patient_token = _caregate("token", "issue", "--client", "patient-app", "--patient", own, "--scope",
                              "patient/*.rs", "--database", sqlite_url).stdout.split()[-1]
    yield f"http://127.0.0.1:{port}/fhir", tmp_path / "checker.pem", patient_token
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def test_a_secured_caregate_passes_with_the_checker_as_a_backend_service(secured, tmp_path: Path) -> None:
    base, pem, patient_token = secured
    out = tmp_path / "report.json"
    proc = _caregate("check", base, "--client-id", "checker", "--private-key", str(pem), "--scope",
                     "system/*.cruds", "--patient-token", patient_token, "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["findings"] == []
    assert [(t["id"], t["message"]) for t in report["tests"] if t["verdict"] in ("fail", "error")
            and t["mandatory"]] == []
    security = {t["id"]: t["verdict"] for t in report["tests"] if t["suite"] == "security"}
    assert {k for k, v in security.items() if v == "pass"} >= {
        "security.smart-discovery", "security.no-token", "security.www-authenticate", "security.bad-token",
        "security.unsigned-token", "security.tampered-token", "security.backend-services",
        "security.expired-assertion", "security.foreign-key", "security.patient-own", "security.patient-read",
        "security.patient-search", "security.patient-chain-has", "security.patient-include",
        "security.patient-history"}
    assert "BEGIN PRIVATE KEY" not in out.read_text() and "PRIVATE" not in proc.stderr
