"""Benchmark data: synthetic UK patients from `caregate.synth`, the same data set `make run` serves.

Bundles are kept serialised so each benchmark parses its own copy (transactions may rewrite what they are
given) and so the parsing stays outside the timed part. NDJSON files for the load benchmark are cached in
`bench/out/data`, since a large one takes minutes to generate and never changes for a given size and seed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import orjson

SEED = 7
DATA_DIR = Path(__file__).resolve().parent / "out" / "data"
_BYTES_PER_PATIENT_LOW = 200_000  # a synthetic patient's record is 300 kB of NDJSON on average


def generate(patients: int, seed: int = SEED) -> Iterator[dict]:
    """Transaction Bundles: the shared directory first, then one per patient."""
    from caregate.synth import generate as synth_generate

    return iter(synth_generate(patients, seed=seed))


@lru_cache(maxsize=4)
def bundles(patients: int, seed: int = SEED) -> tuple[bytes, ...]:
    """The serialised Bundles for `patients` patients, generated once per run and shared by the benchmarks."""
    return tuple(orjson.dumps(b) for b in generate(patients, seed))


def resources(bundle: dict) -> Iterator[dict]:
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if isinstance(resource, dict):
            yield resource


def count_resources(raw: Iterable[bytes]) -> int:
    return sum(1 for b in raw for _ in resources(orjson.loads(b)))


def ids_of(raw: Iterable[bytes], resource_type: str) -> list[str]:
    return [r["id"] for b in raw for r in resources(orjson.loads(b)) if r.get("resourceType") == resource_type]


def _generator_fingerprint() -> str:
    """A hash of the generator's source, so a cached file is regenerated when the generator changes."""
    import caregate.synth

    digest = hashlib.sha1()
    for source in sorted(Path(caregate.synth.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


def ndjson(megabytes: int, seed: int = SEED) -> tuple[Path, int]:
    """An NDJSON file of about `megabytes` MB of synthetic resources (cached); its path and resource count.

    Patients are generated until the file is big enough: the whole record of every patient is written, so the
    references in the file resolve, and the shared directory comes first, as `caregate synth` writes it."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"synth-{megabytes}mb-seed{seed}"
    path = DATA_DIR / f"{stem}-{_generator_fingerprint()}.ndjson"
    count_file = path.with_suffix(".count")
    if path.exists() and count_file.exists():
        return path, int(count_file.read_text())
    for stale in DATA_DIR.glob(f"{stem}-*"):  # made by an older generator: its data would differ
        stale.unlink()
    target = megabytes * 1_000_000
    partial = path.with_suffix(".partial")
    written = count = 0
    # More patients than needed (a record averages about 300 kB): the generator is lazy and the loop stops once
    # the file is large enough. The count matters because the size of the shared directory depends on it.
    patients = max(20, -(-target // _BYTES_PER_PATIENT_LOW))
    with open(partial, "wb") as out:
        for bundle in generate(patients, seed):
            for resource in resources(bundle):
                line = orjson.dumps(resource) + b"\n"
                out.write(line)
                written += len(line)
                count += 1
            if written >= target:
                break
    os.replace(partial, path)
    count_file.write_text(str(count))
    return path, count
