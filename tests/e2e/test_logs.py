"""Logs are JSON lines on stderr that never carry patient data (names, identifiers, ids from URLs)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.server import Server


def test_access_logs_are_json_without_patient_data(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = Server(sqlite_url, log, access_log=True)
    try:
        with httpx.Client(base_url=server.base, timeout=10) as c:
            body = {"resourceType": "Patient", "name": [{"family": "Zebedee"}],
                    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}]}
            pid = c.post("/Patient", json=body).json()["id"]
            c.get("/Patient", params={"family": "Zebedee", "identifier": "9434765919"})
            c.get(f"/Patient/{pid}")
            c.post("/Patient", content=b'{"resourceType": "Patient", "name": [{"family": "Broken"')
    finally:
        server.stop()
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    requests = [r for r in records if r.get("msg") == "request"]
    assert {r["route"] for r in requests} >= {"/fhir/{type}", "/fhir/{type}/{id}"}
    text = log.read_text()
    for secret in ("Zebedee", "9434765919", pid, "Broken"):
        assert secret not in text
