"""Several server processes share one store: what one writes, any can read, with versions kept in order."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.server import Server


def test_two_workers_serve_one_store(database_url: str, tmp_path: Path) -> None:
    server = Server(database_url, tmp_path / "server.log", "--workers", "2")
    try:
        with httpx.Client(base_url=server.base, timeout=10) as c:
            created = c.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Worker"}]}).json()
            for i in range(20):  # new connections land on either process
                body = {**created, "gender": ["male", "female"][i % 2]}
                r = httpx.put(f"{server.base}/Patient/{created['id']}", json=body, timeout=10)
                assert r.status_code == 200
            final = c.get(f"/Patient/{created['id']}").json()
            assert final["meta"]["versionId"] == "21"
            assert c.get("/Patient?family=worker&_summary=count").json()["total"] == 1
    finally:
        server.stop()
