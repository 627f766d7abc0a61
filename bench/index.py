"""Indexing throughput, from `bench/bench_extract.py`: the search-index cost every create and update pays.

It explains the ingest and CRUD figures (where the time goes between the raw baseline and caregate), so it is in
the table beside them; `bench_extract.py` still runs on its own as before.
"""

from __future__ import annotations

import time

from bench.bench_extract import index_resource, plan_for, sample
from bench.report import Row


def run(count: int) -> list[Row]:
    resources = sample(count)
    for rtype in sorted({r["resourceType"] for r in resources}):
        plan_for(rtype)
    best, rows = 0.0, 0
    for _ in range(3):
        start = time.perf_counter()
        rows = 0
        for resource in resources:
            out = index_resource(resource)
            rows += len(out.strings) + len(out.tokens) + len(out.references) + len(out.dates)
            rows += len(out.numbers) + len(out.quantities) + len(out.uris)
        best = max(best, count / (time.perf_counter() - start))
    return [Row("index", f"index_resource on {count:,} mixed clinical resources (bench_extract.py)", best,
                "resources/s", note=f"{rows / count:.1f} index rows per resource; best of 3, in-process")]
