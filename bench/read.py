"""Read: `GET /fhir/Patient/{id}` under wrk, against nginx serving the very same bytes as static files.

nginx answering from its file cache is about the fastest any HTTP server on this machine returns a stored JSON
document, so the ratio says how much of that ceiling caregate reaches, whatever the machine. The two servers run
one after the other, never together, with the same wrk settings (2 connections per core) and the same id cycle.
The server's peak resident memory over the run is the read half of the memory benchmark.

caregate is measured as `caregate serve` starts by default (one process, so one core) and again with one worker
per core: nginx uses every core, and the second figure shows how much of the gap is only that.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from bench import data
from bench.ingest import caregate_rate
from bench.procs import (
    CaregateServer,
    Nginx,
    WrkResult,
    ensure_tools,
    peak_rss_mb,
    tree_cpu_seconds,
    wrk,
    wrk_script,
)
from bench.report import Row, Target

RATIO_TARGET = 0.25
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
    ]


def _measure_server(server: CaregateServer, script: Path, seconds: float) -> tuple[WrkResult, float]:
    """wrk against the server, after a warm-up; and the server's CPU use over the measurement, in cores."""
    _measure(server.origin, script, WARM_UP_S)
    cpu_before, wall_before = tree_cpu_seconds(server.pid), time.perf_counter()
    result = _measure(server.origin, script, seconds)
    return result, (tree_cpu_seconds(server.pid) - cpu_before) / (time.perf_counter() - wall_before)
