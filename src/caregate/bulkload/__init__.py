"""Bulk loading: FHIR resources, Bundles and NDJSON exports from files into the store.

`load_files` is what `caregate load` runs; tests and benchmarks call it directly. It takes a bulk data
export as it is (https://hl7.org/fhir/uv/bulkdata/export.html), conditional references included, and
streams: memory stays flat however large the files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from caregate.bulkload.loader import Loader, ProgressHook
from caregate.bulkload.records import expand
from caregate.bulkload.writer import BulkStore, LoadSummary, Problem, Report
from caregate.search.registry import Registry, default_registry

__all__ = ["BulkStore", "LoadSummary", "Problem", "ProgressHook", "Report", "aload_files", "load_files"]

DEFAULT_BATCH_SIZE = 1000


async def aload_files(store: BulkStore, paths: Iterable[Path | str], *, report: Report | None = None,
                      progress: ProgressHook | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                      registry: Registry | None = None) -> LoadSummary:
    """Load every resource of `paths` (files, or folders of `.json`/`.ndjson`, optionally gzipped).

    Each record that cannot be loaded is passed to `report` as a `Problem` (`FILE:LINE: message`) and
    skipped; the rest still load. `progress` is called as the files are read. The store must offer
    `transact_sync` (both engines do)."""
    files = expand(Path(p) for p in paths)
    loader = Loader(store, files, registry or default_registry(), report, progress, batch_size)
    return await loader.run()


def load_files(store: BulkStore, paths: Iterable[Path | str], *, report: Report | None = None,
               progress: ProgressHook | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
               registry: Registry | None = None) -> LoadSummary:
    """`aload_files` for callers without an event loop (the CLI, scripts, benchmarks)."""
    return asyncio.run(aload_files(store, paths, report=report, progress=progress, batch_size=batch_size,
                                   registry=registry))
