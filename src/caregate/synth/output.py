"""Writing synthetic data to disk: bulk-export NDJSON or one JSON file per Bundle.

:func:`write_ndjson` produces the layout of a FHIR Bulk Data export (HL7 FHIR Bulk Data Access IG,
"Bulk Data Output File Format"): one ``<ResourceType>.ndjson`` file per type, each line one resource
serialised as JSON with no internal newlines. :func:`write_bundles` keeps the transaction Bundles
intact, numbered in generation order, ready to be POSTed to a server's base URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson


def resources_of(bundles: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every resource carried by ``bundles``, in order."""
    for bundle in bundles:
        for item in bundle.get("entry", ()):
            yield item["resource"]


def write_ndjson(bundles: Iterable[dict[str, Any]], out_dir: Path) -> dict[str, int]:
    """Write every resource in ``bundles`` to ``out_dir/<Type>.ndjson``; return counts by type.

    A type's file is opened when its first resource arrives and is overwritten, not appended to, if
    it already exists; ``bundles`` is consumed once, so a lazy generator streams straight to disk.
    Counts are returned sorted by type.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, IO[bytes]] = {}
    counts: dict[str, int] = {}
    try:
        for resource in resources_of(bundles):
            resource_type = resource["resourceType"]
            handle = files.get(resource_type)
            if handle is None:
                handle = files[resource_type] = (out / f"{resource_type}.ndjson").open("wb")
                counts[resource_type] = 0
            handle.write(orjson.dumps(resource) + b"\n")
            counts[resource_type] += 1
    finally:
        for handle in files.values():
            handle.close()
    return dict(sorted(counts.items()))


def bundle_filename(index: int, bundle: dict[str, Any]) -> str:
    """``000-shared.json`` for a bundle without patients, ``001-patient.json`` for a patient's bundle."""
    has_patient = any(item["resource"]["resourceType"] == "Patient" for item in bundle.get("entry", ()))
    return f"{index:03d}-{'patient' if has_patient else 'shared'}.json"


def write_bundles(bundles: Iterable[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Write each Bundle to its own indented JSON file in ``out_dir``; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, bundle in enumerate(bundles):
        path = out / bundle_filename(index, bundle)
        path.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2) + b"\n")
        written.append(path)
    return written
