"""Read: `GET /fhir/Patient/{id}` under wrk, against nginx serving the very same bytes as static files.

nginx answering from its file cache is about the fastest any HTTP server on this machine returns a stored JSON
document, so the ratio says how much of that ceiling caregate reaches, whatever the machine. The two servers run
one after the other, never together, with the same wrk settings (2 connections per core) and the same id cycle.
The server's peak resident memory over the run is the read half of the memory benchmark.

caregate is measured as `caregate serve` starts by default (one process, so one core) and again with one worker
per core: nginx uses every core, and the second figure shows how much of the gap is only that.

Then what access control costs (issue 6's target: at most 30% of read throughput): on SQLite and on PostgreSQL,
with one worker and with one per core, the same reads with a backend service's bearer token, the access policy
and the audit trail on, beside the same reads with authentication and the audit off (`bench.unaudited`). Both
servers run side by side and are measured in alternating turns, so that both see the same machine load. The
PostgreSQL cluster is switched to durable commits (fsync, synchronous_commit, full_page_writes on) first: the
audit record must survive a power cut there, so its WAL flush is part of the cost.

Throughput is what a server sustains when clients keep it busy, so the comparison runs with 32 connections per
core (`COST_CONNECTIONS`): the unaudited server is saturated by far fewer, but the audited one holds every
response until its record's commit, and with 2 connections per core it spends that wait idle, which measures the
commit latency rather than the capacity. The lighter load is measured too, once per engine with one worker, and
printed beside it without a target.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import data
from bench.ingest import caregate_rate
from bench.procs import (
    CaregateServer,
    Nginx,
    WrkResult,
    durable_database,
    ensure_tools,
    peak_rss_mb,
    postgres,
    tree_cpu_seconds,
    wrk,
    wrk_script,
)
from bench.report import Row, Target

RATIO_TARGET = 0.25
COST_TARGET = 0.7  # policy + audit may cost at most 30% of read throughput
COST_CONNECTIONS = 32  # per core, for the cost comparison (module docstring: why a saturating load)
TURNS = 2  # alternating turns per server in the cost comparison
RSS_TARGET_MB = 300.0
WARM_UP_S = 2.0


def _settings() -> tuple[int, int]:
    cores = os.cpu_count() or 1
    return min(cores, 2), 2 * cores  # wrk threads, connections


def _measure(url: str, script: Path, seconds: float) -> WrkResult:
    threads, connections = _settings()
    return wrk(url, script, threads=threads, connections=connections, seconds=seconds)


def run(patients: int, seconds: float, scratch: Path) -> list[Row]:
    threads, connections = _settings()
    measure = f"GET /fhir/Patient/{{id}}, wrk -t{threads} -c{connections} {seconds:.0f} s"
    missing = ensure_tools()
    if missing:
        return [Row("read", measure, None, "requests/s", note=f"not measured: {missing}")]
    raw = data.bundles(patients)
    url = f"sqlite:///{scratch / 'read.db'}"
    caregate_rate(url, raw)  # loads the patients' whole records; the ingest rate itself is not used here
    ids = data.ids_of(raw, "Patient")
    static = scratch / "static"
    folder = static / "fhir" / "Patient"
    folder.mkdir(parents=True)
    script = wrk_script(scratch / "patients.lua", "/fhir/Patient/", ids)
    with CaregateServer(url, scratch / "read-server.log") as server:
        with httpx.Client(base_url=server.base) as client:
            for id_ in ids:
                response = client.get(f"/Patient/{id_}")
                response.raise_for_status()
                (folder / id_).write_bytes(response.content)
        ours, busy = _measure_server(server, script, seconds)
        rss = peak_rss_mb(server.pid)
    cores = os.cpu_count() or 1
    with CaregateServer(url, scratch / "read-server-workers.log", workers=cores) as server:
        wide, wide_busy = _measure_server(server, script, seconds)
        workers = server.workers
    with Nginx(static, scratch / "nginx") as nginx:
        _measure(nginx.origin, script, WARM_UP_S)
        theirs = _measure(nginx.origin, script, seconds)
    size = sum(p.stat().st_size for p in folder.iterdir()) / len(ids)
    wide_note = "" if workers == cores else f" (only {workers} worker process seen)"
    return [
        Row("read", f"{measure}, {len(ids)} patients (~{size / 1024:.1f} KiB each), 1 worker (default)", ours.rps,
            "requests/s", theirs.rps, "nginx static", (Target(">=", RATIO_TARGET, "ratio"),),
            note=f"caregate {ours.describe}, server CPU {busy:.0%} of a core; nginx {theirs.describe}"),
        Row("read", f"the same with `caregate serve --workers {cores}`", wide.rps, "requests/s", theirs.rps,
            "nginx static", (Target(">=", RATIO_TARGET, "ratio"),),
            note=f"{wide.describe}, server CPU {wide_busy:.0%} of a core{wide_note}"),
        Row("memory", "peak RSS of `caregate serve` during the read benchmark", rss, "MB",
            targets=(Target("<=", RSS_TARGET_MB),), note="VmHWM of the one-worker server process"),
        *cost_rows(raw, ids, seconds, scratch),
    ]


def _measure_server(server: CaregateServer, script: Path, seconds: float) -> tuple[WrkResult, float]:
    """wrk against the server, after a warm-up; and the server's CPU use over the measurement, in cores."""
    _measure(server.origin, script, WARM_UP_S)
    cpu_before, wall_before = tree_cpu_seconds(server.pid), time.perf_counter()
    result = _measure(server.origin, script, seconds)
    return result, (tree_cpu_seconds(server.pid) - cpu_before) / (time.perf_counter() - wall_before)


def cost_rows(raw: list[bytes], ids: list[str], seconds: float, scratch: Path,
              engines: tuple[str, ...] = ("sqlite", "postgresql")) -> list[Row]:
    """Reads with policy and audit on beside the same reads with auth and audit off, per engine and worker count."""
    cores = os.cpu_count() or 1
    script = wrk_script(scratch / "cost.lua", "/fhir/Patient/", ids)
    rows = []
    for engine in engines:
        with _database(engine, scratch, raw) as url:
            for workers in sorted({1, cores}):
                full, off = _compare(url, workers, script, seconds, scratch / f"cost-{engine}-{workers}",
                                     COST_CONNECTIONS * cores)
                rows.append(Row(
                    "read", f"{engine}: GET /fhir/Patient/{{id}}, backend token + policy + audit, "
                            f"{workers} worker{'s' if workers > 1 else ''}, {COST_CONNECTIONS * cores} connections",
                    full.rps, "requests/s", off.rps, "auth and audit off, alternating",
                    (Target(">=", COST_TARGET, "ratio"),), note=f"on {full.describe}; off {off.describe}"))
            light = _settings()[1]
            full, off = _compare(url, 1, script, seconds, scratch / f"cost-{engine}-light", light)
            rows.append(Row(
                "read", f"{engine}: the same, 1 worker, {light} connections (light load: commit latency shows)",
                full.rps, "requests/s", off.rps, "auth and audit off, alternating",
                note=f"on {full.describe}; off {off.describe}"))
    return rows


@contextmanager
def _database(engine: str, scratch: Path, raw: list[bytes]) -> Iterator[str]:
    if engine == "sqlite":
        url = f"sqlite:///{scratch / 'cost.db'}"
        caregate_rate(url, raw)
        yield url
        return
    with postgres() as cluster:
        url = durable_database(cluster, "cost")
        caregate_rate(url, raw)
        yield url


def _compare(url: str, workers: int, script: Path, seconds: float, logs: Path,
             connections: int) -> tuple[WrkResult, WrkResult]:
    from joserfc import jwk

    from caregate.auth.service import AuthService

    logs.mkdir(parents=True, exist_ok=True)
    with CaregateServer(url, logs / "full.log", workers=workers, auth=True) as full, \
            CaregateServer(url, logs / "off.log", workers=workers, module="bench.unaudited") as off:
        service = AuthService(url, full.base)
        if service.clients.get("bench-read") is None:
            key = jwk.ECKey.generate_key("P-384", parameters={"kid": "k1"})
            service.clients.add("bench-read", "system/*.rs", client_id="bench-read",
                                jwks={"keys": [dict(key.as_dict(private=False))]})
        token = service.issue("bench-read", "system/*.rs", lifetime=3600)[0]
        bearer = (f"Authorization: Bearer {token}",)
        threads = _settings()[0]
        turns: dict[str, list[WrkResult]] = {"full": [], "off": []}
        for server, headers in ((full, bearer), (off, ())):
            wrk(server.origin, script, threads=threads, connections=connections, seconds=WARM_UP_S, headers=headers)
        for _ in range(TURNS):
            for name, server, headers in (("off", off, ()), ("full", full, bearer)):
                turns[name].append(wrk(server.origin, script, threads=threads, connections=connections,
                                       seconds=seconds / TURNS, headers=headers))
    return _merged(turns["full"]), _merged(turns["off"])


def _merged(results: list[WrkResult]) -> WrkResult:
    """Turns of equal length as one: requests/s and errors summed over time, the worst turn's latencies."""
    return WrkResult(sum(r.rps for r in results) / len(results),
                     max((r.p50_ms for r in results if r.p50_ms is not None), default=None),
                     max((r.p99_ms for r in results if r.p99_ms is not None), default=None),
                     sum(r.requests for r in results), sum(r.bad for r in results))
