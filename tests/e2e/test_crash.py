"""kill -9 during heavy writes loses no acknowledged write and corrupts nothing, on both engines."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.e2e.server import Server


def test_kill_9_loses_no_acknowledged_write(database_url: str, tmp_path: Path) -> None:
    server = Server(database_url, tmp_path / "server.log")
    acknowledged: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(n: int) -> None:
        with httpx.Client(base_url=server.base, timeout=5) as c:
            i = 0
            while not stop.is_set():
                rid = f"w{n}-{i}"
                body = {"resourceType": "Observation", "id": rid, "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                        "valueQuantity": {"value": i, "unit": "/min"}}
                try:
                    r = c.put(f"/Observation/{rid}", json=body)
                except httpx.HTTPError:
                    return
                if r.status_code in (200, 201):
                    with lock:
                        acknowledged.append(rid)
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 50, "the writers should have been acknowledged many times before the kill"

    restarted = Server(database_url, tmp_path / "server2.log")
    try:
        with httpx.Client(base_url=restarted.base, timeout=10) as c:
            missing = [rid for rid in acknowledged if c.get(f"/Observation/{rid}").status_code != 200]
            assert missing == []
            total = c.get("/Observation?_summary=count").json()["total"]
            assert total >= len(acknowledged)
            by_code = c.get("/Observation?code=http://loinc.org|8867-4&_summary=count").json()["total"]
            assert by_code == total, "every stored resource still has its index rows"
    finally:
        restarted.stop()
    if database_url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(database_url[len("sqlite:///"):])
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
