"""What the audit trail costs on reads: the same `GET /fhir/Patient/{id}` through the ASGI app with the audit
on and off, in one run on one SQLite database.

Two figures: the p50 latency of one request at a time (each audited request waits for its own commit), and the
throughput of 16 concurrent request streams (where requests arriving during a commit share the next one).
The two apps alternate round by round so that both see the same machine load.

Run alone: .venv/bin/python -m bench.audit [requests]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Row, Target
from caregate.app import build
from caregate.config import Settings
from caregate.storage.base import Write

STREAMS = 16


async def _get(app, path: str) -> int:
    status = 0

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [], "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 8080),
             "client": ("127.0.0.1", 1), "root_path": ""}
    await app(scope, receive, send)
    return status


async def _sequential(apps: tuple, n: int) -> tuple[list[float], list[float]]:
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(n):
        for app, out in zip(apps, times, strict=True):
            start = time.perf_counter()
            assert await _get(app, f"/fhir/Patient/p{i % 50}") == 200
            out.append(time.perf_counter() - start)
    return times


async def _throughput(app, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def stream(k: int) -> None:
        nonlocal done
        i = k
        while time.perf_counter() < stop:
            assert await _get(app, f"/fhir/Patient/p{i % 50}") == 200
            done += 1
            i += STREAMS

    start = time.perf_counter()
    await asyncio.gather(*(stream(k) for k in range(STREAMS)))
    return done / (time.perf_counter() - start)


async def _rounds(apps: tuple, seconds: float, rounds: int = 3) -> tuple[float, float]:
    rates: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for app, out in zip(apps, rates, strict=True):
            out.append(await _throughput(app, seconds / rounds))
    return statistics.median(rates[0]), statistics.median(rates[1])


def run(requests: int = 2000, seconds: float = 6.0) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="caregate-bench-audit-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        settings = Settings.from_env(env={}, database_url=url, port=8080, no_auth=True)
        audited, plain = build(settings, access_log=False), build(settings, access_log=False)
        plain.app.fhir.audit = None
        store = audited.app.fhir.store
        store.transact_sync([Write("update", "Patient", f"p{i}", {"resourceType": "Patient", "id": f"p{i}",
                                                                   "name": [{"family": f"F{i}"}]}) for i in range(50)])
        on, off = asyncio.run(_sequential((audited, plain), requests))
        rate_on, rate_off = asyncio.run(_rounds((audited, plain), seconds))
        records, broken = audited.app.fhir.audit.verify()
        audited.app.fhir.audit.close()
        for app in (audited, plain):
            asyncio.run(app.app.fhir.store.close())
    p50_on, p50_off = statistics.median(on) * 1000, statistics.median(off) * 1000
    return [
        Row("audit", "GET /fhir/Patient/{id} in process, one at a time, audit on, p50", p50_on, "ms", p50_off,
            "the same read with the audit off, alternating",
            note=f"added {p50_on - p50_off:.3f} ms: one SQLite commit (WAL, synchronous=NORMAL) per request; "
                 f"{requests:,} of each"),
        Row("audit", f"the same read, {STREAMS} concurrent streams, audit on", rate_on, "requests/s", rate_off,
            "the same streams with the audit off, alternating rounds", targets=(Target(">=", 0.7, "ratio"),),
            note=f"group commit; chain verified after the run: {records:,} records, "
                 f"{'intact' if broken is None else 'BROKEN'}"),
    ]


if __name__ == "__main__":
    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000):
        print(row)
