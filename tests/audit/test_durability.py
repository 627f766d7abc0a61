"""The audit chain under real concurrency: two server processes appending at once still build one verifiable
chain, and a server killed under load (SIGKILL, no shutdown) has committed the record of every request it
acknowledged."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from caregate.audit import AuditLog
from tests.e2e.server import Server

_APPENDER = textwrap.dedent("""
    import asyncio, os, sys, time
    from caregate.audit import AuditLog

    async def main(url, name, count, go):
        log = AuditLog(url)
        log.verify()  # connected, tables there
        open(f"{go}.{name}", "w").close()
        while not os.path.exists(go):  # both processes start appending together
            time.sleep(0.005)
        async def one(i):
            event = {"resourceType": "AuditEvent", "recorded": "2026-01-01T00:00:00.000Z", "action": "R",
                     "outcome": "0", "entity": [{"what": {"reference": f"Patient/{name}-{i}"}}]}
            await log.record(event, [f"{name}-{i}"])
        for start in range(0, count, 25):  # waves of 25 concurrent requests, as a busy server sees them
            await asyncio.gather(*(one(i) for i in range(start, min(start + 25, count))))
            await asyncio.sleep(0.002)  # the next wave of requests arrives a moment later
        log.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
""")


def _patients(url: str) -> set[str]:
    log = AuditLog(url)
    try:
        return {row[0] for row in log._rows("SELECT patient FROM audit_patient")}
    finally:
        log.close()


def test_two_processes_appending_at_once_build_one_chain(database_url: str, tmp_path: Path) -> None:
    count = 300
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, database_url, name, str(count), str(go)])
             for name in ("a", "b")]
    deadline = time.monotonic() + 60
    while not all(Path(f"{go}.{n}").exists() for n in "ab") and time.monotonic() < deadline:
        time.sleep(0.01)  # both have started and connected
    go.touch()
    try:
        codes = [proc.wait(timeout=120) for proc in procs]
    finally:
        for proc in procs:  # a failed run leaves no writer behind for the next test to trip on
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert codes == [0, 0]
    log = AuditLog(database_url)
    try:
        assert log.verify() == (2 * count, None)
        events = log._rows("SELECT json FROM audit_event ORDER BY seq")
    finally:
        log.close()
    assert _patients(database_url) == {f"{n}-{i}" for n in "ab" for i in range(count)}
    # the two writers really did interleave: their records are not two separate runs
    order = [e[0].split("Patient/")[1][0] for e in events]
    assert sum(1 for x, y in itertools.pairwise(order) if x != y) > 1


@pytest.mark.anyio
async def test_every_acknowledged_request_survives_a_kill(database_url: str, tmp_path: Path) -> None:
    server = Server(database_url, tmp_path / "server.log")
    acknowledged: list[int] = []
    counter = iter(range(1_000_000))

    async def client(http: httpx.AsyncClient) -> None:
        while True:
            i = next(counter)
            try:
                r = await http.get(f"{server.base}/Patient/crash-{i}")
            except httpx.HTTPError:
                return  # the server is gone: this request was never acknowledged
            assert r.status_code == 404  # no such patient; the read is audited all the same
            acknowledged.append(i)

    async with httpx.AsyncClient(timeout=10) as http:
        clients = [asyncio.create_task(client(http)) for _ in range(8)]
        deadline = asyncio.get_running_loop().time() + 60
        while len(acknowledged) < 400 and not all(c.done() for c in clients):
            assert asyncio.get_running_loop().time() < deadline, "the server stopped answering"
            await asyncio.sleep(0.01)
        server.proc.kill()  # SIGKILL under load: no shutdown, no last flush
        server.proc.wait()
        await asyncio.gather(*clients)
    server.kill()
    audited = _patients(database_url)
    missing = [i for i in acknowledged if f"crash-{i}" not in audited]
    assert missing == []
    log = AuditLog(database_url)
    try:
        count, broken = log.verify()
    finally:
        log.close()
    assert broken is None and count >= len(acknowledged)
