"""Terminology: loading a SNOMED CT-sized RF2 release and `$expand` with a text filter over its hierarchy.

caregate ships no SNOMED CT, so the benchmark writes a made-up RF2 release (the test suite's generator): a
random is-a hierarchy of N concepts under one root, three descriptions each, a language reference set. It is
loaded with `caregate.storage.snomed_load.load_release` into a fresh SQLite database (the load time is
printed), then `$expand` runs on the ValueSet "every concept is-a the root" with a text `filter` (one or two
word prefixes, as a user types them) and `count=20`, through the same library call the REST API makes. p50
and p95 are over the requests after a warm-up.

Run alone: .venv/bin/python -m bench.terminology [CONCEPTS]
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.fhir.terminology.rf2 import WORDS, synthetic_release

from bench.report import Row, Target
from caregate.fhir.terminology.operations import expand_operation
from caregate.storage import snomed
from caregate.storage.snomed_load import load_release

_REQUESTS = 300


def _filters(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        picked = rng.sample(WORDS, rng.choice((1, 1, 2)))
        out.append(" ".join(w[:rng.randint(3, max(3, len(w)))] for w in picked))
    return out


def run(concepts: int, scratch: Path | None = None) -> list[Row]:
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        folder = Path(tmp)
        _, ids = synthetic_release(folder / "release", concepts)
        url = f"sqlite:///{folder}/terminology.db"
        started = time.perf_counter()
        counts = load_release(url, folder / "release")
        load_s = time.perf_counter() - started
        content = snomed.install(url)
        try:
            vs = {"resourceType": "ValueSet", "url": "http://example.org/fhir/ValueSet/everything", "status": "active",
                  "compose": {"include": [{"system": snomed.SYSTEM, "filter": [
                      {"property": "concept", "op": "is-a", "value": ids[0]}]}]}}
            rng = random.Random(7)
            texts = _filters(rng, _REQUESTS + 30)
            for text in texts[:30]:  # warm-up: connection, page cache, prepared statements
                expand_operation(vs, {"filter": text, "count": "20"}, "2026-01-01T00:00:00Z")
            times, totals = [], []
            for text in texts[30:]:
                t = time.perf_counter()
                out = expand_operation(vs, {"filter": text, "count": "20"}, "2026-01-01T00:00:00Z")
                times.append((time.perf_counter() - t) * 1000)
                totals.append(out["expansion"]["total"])
        finally:
            content.close()
            snomed.uninstall()
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
    what = f"{counts['concepts']:,} concepts, {counts['closure']:,} closure rows"
    return [Row("terminology", f"load a made-up RF2 release into SQLite ({what})", load_s, "s",
                note=f"{counts['descriptions']:,} descriptions; one transaction, batched inserts, closure in SQL"),
            Row("terminology", f"$expand is-a root with a text filter, count=20 ({counts['concepts']:,} concepts), "
                "p50", p50, "ms", note=f"{len(times)} requests; median total {int(statistics.median(totals)):,}"),
            Row("terminology", f"$expand is-a root with a text filter, count=20 ({counts['concepts']:,} concepts), "
                "p95", p95, "ms", targets=(Target("<=", 50),),
                note="through the library call the REST API makes (no HTTP)")]


if __name__ == "__main__":
    from bench.report import render_text

    print(render_text(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), "Terminology", 200))
