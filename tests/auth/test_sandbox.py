"""`caregate serve --sandbox`: accounts printed on the terminal (never in the logs), registration open, and a
newcomer's path from `caregate token issue` to a FHIR answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.auth.live import LiveServer


def test_sandbox_prints_accounts_and_opens_registration(tmp_path: Path, sqlite_url: str) -> None:
    log = tmp_path / "server.log"
    server = LiveServer(sqlite_url, log, "--sandbox", "--demo", "1")
    try:
        smart = httpx.get(f"{server.base}/.well-known/smart-configuration").json()
        assert smart["registration_endpoint"] == f"{server.root}/auth/register"
        r = httpx.post(smart["registration_endpoint"], json={"client_name": "My app",
                                                             "redirect_uris": ["https://my.example/cb"]})
        assert r.status_code == 201
        assert r.json()["token_endpoint_auth_method"] == "none" and r.json()["client_id"]
        bad = httpx.post(smart["registration_endpoint"], json={"redirect_uris": ["not a uri"]})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_redirect_uri"
        issued = subprocess.run([sys.executable, "-m", "caregate", "token", "issue", "--client", "sandbox-backend",
                                 "--scope", "system/*.rs", "--database", sqlite_url],
                                capture_output=True, text=True, check=True)
        token = issued.stdout.split()[-1]
        answer = httpx.get(f"{server.base}/Patient", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and answer.json()["total"] == 1
    finally:
        printed = server.stop()
    assert "sandbox-patient / " in printed and "sandbox-clinician / " in printed and "sandbox-backend" in printed
    password = printed.split("sandbox-patient / ")[1].split()[0]
    logs = log.read_text()
    assert password not in logs and '"d":' not in logs
    again = LiveServer(sqlite_url, tmp_path / "again.log", "--sandbox")
    assert "sandbox-patient" not in again.stop()  # shown once, on the fresh database only
