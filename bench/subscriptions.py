"""Subscriptions: commit-to-receipt latency at 100 / 1,000 (/ 10,000) active subscriptions, and what having
them costs the write path.

    python -m bench.subscriptions                    # 100 and 1,000 subscriptions, 500 writes/s, SQLite
    python -m bench.subscriptions --counts 100,1000,10000 --rate 500 --seconds 10
    python -m bench.subscriptions --postgres         # the same on a throwaway PostgreSQL cluster

Each count runs `caregate serve` on a fresh store with that many websocket subscriptions to the `lab-result`
topic, each filtered to its own patient (`Observation?patient=Patient/pN`), bound over websocket
connections (1,000 subscriptions per connection). Writers then POST final laboratory Observations for random
patients at a steady rate; every write is an event for exactly one subscription. Latency is the time from the
event's `timestamp` (the version's `meta.lastUpdated`, taken inside the writing transaction just before it
commits) to the client reading the notification, on the same clock. Received / expected shows that every
event arrived.

Throughput is measured closed-loop: eight writers POST as fast as the server answers (each write again an
event for one subscription), on a server with no subscriptions and on the one with the largest count bound,
in alternating rounds; the ratio is the cost of having them, notifications sent included.
The clients run on the same cores as the server, so the figures are for this machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.http import Connection  # noqa: E402
from bench.procs import CaregateServer  # noqa: E402
from bench.report import Row, Target  # noqa: E402

SD = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
PER_SOCKET = 1000
WRITERS = 8
_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def _subscription(base: str, patient: str) -> dict:
    return {"resourceType": "Subscription", "meta": {"profile": [SD + "backport-subscription"]},
            "status": "requested", "reason": "benchmark", "criteria": f"{base}/SubscriptionTopic/lab-result",
            "_criteria": {"extension": [{"url": SD + "backport-filter-criteria",
                                         "valueString": f"Observation?patient=Patient/{patient}"}]},
            "channel": {"type": "websocket", "payload": "application/fhir+json",
                        "_payload": {"extension": [{"url": SD + "backport-payload-content", "valueCode": "id-only"}]}}}


def _observation(patient: str, n: int) -> bytes:
    return orjson.dumps({
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
        "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2024-05-01T09:05:00Z",
        "valueQuantity": {"value": 4 + n % 40 / 10, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"}})


def _conn(base: str) -> Connection:
    url = urlsplit(base)
    return Connection(url.hostname or "127.0.0.1", url.port or 80, _JSON)


async def _subscribe(base: str, count: int) -> list[str]:
    """`count` subscriptions, created by transaction Bundles of 250."""
    conn, ids = _conn(base), []
    prefix = urlsplit(base).path.rstrip("/")
    try:
        for first in range(0, count, 250):
            entries = [{"resource": _subscription(base, f"p{i}"), "request": {"method": "POST", "url": "Subscription"}}
                       for i in range(first, min(first + 250, count))]
            r = await conn.request("POST", prefix, orjson.dumps({"resourceType": "Bundle", "type": "transaction",
                                                                "entry": entries}))
            if r.status != 200:
                raise RuntimeError(f"creating subscriptions: HTTP {r.status} {r.body[:300]!r}")
            ids += [e["response"]["location"].split("/")[1] for e in orjson.loads(r.body)["entry"]]
    finally:
        await conn.close()
    return ids


@dataclass(slots=True)
class Receipts:
    latencies: list[float] = field(default_factory=list)
    handshakes: int = 0
    events: int = 0


async def _listen(base: str, ids: list[str], receipts: Receipts, ready: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    conn = _conn(base)
    params = {"resourceType": "Parameters", "parameter": [{"name": "id", "valueString": i} for i in ids]}
    r = await conn.request("POST", f"{urlsplit(base).path.rstrip('/')}/Subscription/$get-ws-binding-token",
                           orjson.dumps(params))
    await conn.close()
    if r.status != 200:
        raise RuntimeError(f"binding token: HTTP {r.status} {r.body[:300]!r}")
    answer = {p["name"]: next(v for k, v in p.items() if k.startswith("value"))
              for p in orjson.loads(r.body)["parameter"]}
    async with connect(answer["websocket-url"], max_size=None, open_timeout=60) as ws:
        await ws.send(f"bind-with-token: {answer['token']}")
        bound = 0
        async for message in ws:
            now = time.time()
            bundle = orjson.loads(message)
            params = bundle["entry"][0]["resource"]["parameter"]
            kind = next(p["valueCode"] for p in params if p["name"] == "type")
            if kind == "handshake":
                bound += 1
                receipts.handshakes += 1
                if bound == len(ids):
                    ready.set()
                continue
            for p in params:
                if p["name"] == "notification-event":
                    stamp = next(q["valueInstant"] for q in p["part"] if q["name"] == "timestamp")
                    receipts.latencies.append(now - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
                    receipts.events += 1


async def _steady(base: str, patients: int, rate: float, seconds: float) -> tuple[int, float]:
    """POST at `rate` per second for `seconds` (as far as the server keeps up); returns (writes, elapsed)."""
    total = int(rate * seconds)
    queue: asyncio.Queue[int] = asyncio.Queue()
    path = f"{urlsplit(base).path.rstrip('/')}/Observation"
    done = 0
    rng = random.Random(7)
    targets = [f"p{rng.randrange(patients)}" for _ in range(total)]

    async def writer() -> None:
        nonlocal done
        conn = _conn(base)
        try:
            while True:
                n = await queue.get()
                if n < 0:
                    return
                r = await conn.request("POST", path, _observation(targets[n], n))
                if r.status != 201:
                    raise RuntimeError(f"write: HTTP {r.status} {r.body[:200]!r}")
                done += 1
        finally:
            await conn.close()

    tasks = [asyncio.create_task(writer()) for _ in range(WRITERS * 2)]
    start = time.perf_counter()
    for n in range(total):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(n)
    for _ in tasks:
        queue.put_nowait(-1)
    await asyncio.gather(*tasks)
    return done, time.perf_counter() - start


async def _flat_out(base: str, seconds: float, patients: int) -> float:
    """Closed-loop writes per second with WRITERS connections, each write for one of `patients` patients."""
    path = f"{urlsplit(base).path.rstrip('/')}/Observation"
    count = 0
    deadline = time.perf_counter() + seconds

    async def writer(k: int) -> None:
        nonlocal count
        conn = _conn(base)
        try:
            n = 0
            while time.perf_counter() < deadline:
                r = await conn.request("POST", path, _observation(f"p{(n * WRITERS + k) % patients}", n))
                if r.status != 201:
                    raise RuntimeError(f"write: HTTP {r.status} {r.body[:200]!r}")
                count, n = count + 1, n + 1
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(writer(k) for k in range(WRITERS)))
    return count / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _compare(base: str, baseline: str, seconds: float, patients: int, rounds: int = 3) -> tuple[float, float]:
    """Closed-loop writes/s on `base` and on `baseline`, measured in alternating rounds so that load from
    elsewhere on the machine falls on both alike."""
    ours, theirs = [], []
    for _ in range(rounds):
        theirs.append(await _flat_out(baseline, seconds, patients))
        ours.append(await _flat_out(base, seconds, patients))
    return sum(ours) / rounds, sum(theirs) / rounds


async def _measure(base: str, baseline: str, count: int, rate: float, seconds: float, throughput_s: float) -> dict:
    ids = await _subscribe(base, count)
    receipts = Receipts()
    listeners = []
    for first in range(0, len(ids), PER_SOCKET):  # one connection at a time, each bound before the next opens
        ready = asyncio.Event()
        listener = asyncio.create_task(_listen(base, ids[first:first + PER_SOCKET], receipts, ready))
        listeners.append(listener)
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait({waiting, listener}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
        if listener.done():
            listener.result()  # a listener that failed says why
        if not ready.is_set():
            raise RuntimeError(f"only {receipts.handshakes} of {count} handshakes arrived")
    writes, elapsed = await _steady(base, count, rate, seconds)
    deadline = time.monotonic() + 30
    while receipts.events < writes and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    got = {"writes": writes, "rate": writes / elapsed, "received": receipts.events,
           "p50": _pct(receipts.latencies, 0.5), "p99": _pct(receipts.latencies, 0.99)}
    got["throughput"] = await _compare(base, baseline, throughput_s, count) if throughput_s else None
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    return got


def run(counts: tuple[int, ...], rate: float, seconds: float, scratch: Path, database: str = "sqlite",
        throughput_s: float = 3.0) -> list[Row]:
    cluster = None
    if database == "postgresql":
        from tests.pgcluster import PgCluster

        cluster = PgCluster()

    def store(name: str) -> str:
        return cluster.create_database(name) if cluster is not None else f"sqlite:///{scratch / name}.db"

    rows: list[Row] = []
    plain = None
    try:
        plain = CaregateServer(store("subs0"), scratch / "subs0.log")  # the baseline: no subscriptions at all
        largest = max(counts)
        for count in counts:
            with CaregateServer(store(f"subs{count}"), scratch / f"subs{count}.log") as server:
                got = asyncio.run(_measure(server.base, plain.base, count, rate, seconds,
                                           throughput_s if count == largest else 0.0))
            note = (f"{got['writes']:,} writes at {got['rate']:.0f}/s, {got['received']:,} of {got['writes']:,} "
                    f"notifications received; {database}")
            for q in ("p50", "p99"):
                value = got[q]
                targets = (Target("<=", 100.0),) if q == "p99" and count == 1000 else ()
                rows.append(Row("subscriptions", f"{count:,} subscriptions, commit to receipt {q}",
                                None if value is None else value * 1000, "ms", targets=targets, note=note))
            if got["throughput"] is not None:
                ours, baseline = got["throughput"]
                rows.append(Row("subscriptions", f"write throughput with {count:,} subscriptions bound",
                                ours, "writes/s", baseline=baseline, baseline_name="no subscriptions",
                                targets=(Target(">=", 0.8, on="ratio"),),
                                note=f"{WRITERS} writers, closed loop, 3 alternating rounds of {throughput_s:g} s; "
                                     f"{database}"))
    finally:
        if plain is not None:
            plain.stop()
        if cluster is not None:
            cluster.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.subscriptions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="100,1000", help="active subscriptions per run (default 100,1000)")
    parser.add_argument("--rate", type=float, default=500.0, help="steady writes per second (default 500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the steady load (default 10)")
    parser.add_argument("--throughput-seconds", type=float, default=3.0, help="length of each closed-loop round")
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway PostgreSQL cluster")
    args = parser.parse_args(argv)
    counts = tuple(int(c) for c in args.counts.split(",") if c.strip())
    with tempfile.TemporaryDirectory(prefix="caregate-bench-subs-") as scratch:
        rows = run(counts, args.rate, args.seconds, Path(scratch), "postgresql" if args.postgres else "sqlite",
                   args.throughput_seconds)
    for row in rows:
        value = "-" if row.value is None else f"{row.value:,.1f}"
        ratio = f"  ({row.value / row.baseline:.2f} x {row.baseline_name}: {row.baseline:,.0f})" \
            if row.value is not None and row.baseline else ""
        print(f"{row.measure:<55} {value:>10} {row.unit}{ratio}  [{row.note}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
