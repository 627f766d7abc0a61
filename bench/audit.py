"""What the audit trail costs on reads: the same `GET /fhir/Patient/{id}` through the ASGI app with the audit
on and off, in one run on one SQLite database.

Two figures: the p50 latency of one request at a time (each audited request waits for its own commit), and the
throughput of 16 concurrent request streams (where requests arriving during a commit share the next one).
The two apps alternate round by round so that both see the same machine load.

Then issue 6's search target (policy + audit at most 1.3x the p95 latency of searches): clinical searches over
synthetic patients, each sent in turn to an app with a backend service's bearer token, the access policy and the
audit trail on, and to an app with authentication and the audit off, on SQLite and on a PostgreSQL cluster with
durable commits (fsync and synchronous_commit on, as the audit's durability rule needs).

Run alone: .venv/bin/python -m bench.audit [requests]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import data
from bench.report import Row, Target
from caregate.app import build
from caregate.config import Settings
from caregate.storage.base import Write

STREAMS = 16
SEARCH_PATIENTS = 20
SEARCHES = ("Observation?patient={p}&category=vital-signs", "Condition?patient={p}",
            "Encounter?patient={p}&date=ge2015", "MedicationRequest?patient={p}&status=active",
            "Observation?patient={p}&_sort=-date&_count=10", "Patient?_id={p}&_revinclude=Condition:subject")


async def _get(app, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> int:
    status = 0

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    path, _, query = path.partition("?")
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": headers or [], "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 8080),
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
        *search_rows(runs=max(60, requests // 30)),
    ]


def search_rows(runs: int = 30, engines: tuple[str, ...] = ("sqlite", "postgresql")) -> list[Row]:
    """p95 of the SEARCHES for every patient, policy + audit on against auth and audit off, per engine."""
    raw = data.bundles(SEARCH_PATIENTS)
    patients = data.ids_of(raw, "Patient")
    rows = []
    for engine in engines:
        with _engine(engine) as url:
            from bench.ingest import caregate_rate

            caregate_rate(url, raw)
            secured = build(Settings.from_env(env={}, database_url=url, port=8080), access_log=False)
            plain = build(Settings.from_env(env={}, database_url=url, port=8080, no_auth=True), access_log=False)
            plain.app.fhir.audit = None
            token = _token(url, secured.app.fhir.base_url)
            bearer = [(b"authorization", f"Bearer {token}".encode())]
            on, off = asyncio.run(_searches(secured, plain, bearer, patients, runs))
            for app in (secured, plain):
                if app.app.fhir.audit is not None:
                    app.app.fhir.audit.close()
                if app.app.fhir.bearer is not None:
                    app.app.fhir.bearer.close()
                asyncio.run(app.app.fhir.store.close())
        p95_on, p95_off = _p95(on), _p95(off)
        rows.append(Row("audit", f"{engine}: {len(SEARCHES)} clinical searches x {len(patients)} patients, backend "
                                 "token + policy + audit, p95", p95_on, "ms", p95_off,
                        "auth and audit off, alternating", targets=(Target("<=", 1.3, "ratio"),),
                        note=f"p50 {statistics.median(on) * 1000:.2f} ms on, {statistics.median(off) * 1000:.2f} ms "
                             f"off; {len(on):,} searches each"))
    return rows


def _p95(times: list[float]) -> float:
    return sorted(times)[int(len(times) * 0.95)] * 1000


@contextmanager
def _engine(engine: str) -> Iterator[str]:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="caregate-bench-audit-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'search.db'}"
        return
    from bench.procs import durable_database, postgres

    with postgres() as cluster:
        url = durable_database(cluster, "audit_search")
        yield url


def _token(url: str, base: str) -> str:
    from joserfc import jwk

    from caregate.auth.service import AuthService

    service = AuthService(url, base)
    key = jwk.ECKey.generate_key("P-384", parameters={"kid": "k1"})
    service.clients.add("bench-search", "system/*.rs", client_id="bench-search",
                        jwks={"keys": [dict(key.as_dict(private=False))]})
    return service.issue("bench-search", "system/*.rs", lifetime=3600)[0]


async def _searches(secured, plain, bearer: list, patients: list[str], runs: int) -> tuple[list[float], list[float]]:
    on: list[float] = []
    off: list[float] = []
    paths = [f"/fhir/{q.format(p=p)}" for q in SEARCHES for p in patients]
    for path in paths:  # warm both
        assert await _get(secured, path, bearer) == 200
        assert await _get(plain, path) == 200
    for _ in range(max(1, runs // len(patients))):
        for path in paths:
            start = time.perf_counter()
            assert await _get(plain, path) == 200
            off.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert await _get(secured, path, bearer) == 200
            on.append(time.perf_counter() - start)
    return on, off


if __name__ == "__main__":
    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000):
        print(row)
