"""Validation throughput: resources/s through `caregate.fhir.validate.validate` on synthetic records, one core.

Every resource of a synthetic population (`caregate.synth`: Patients, Encounters, Observations, Conditions,
prescriptions, ...) is validated against the R4 base definitions: structure, formats, cardinality, bindings,
invariants run by the FHIRPath engine, reference targets and the UK identifier rules. The baseline is an orjson
round trip (serialise and parse) of the same resources, the cheapest thing a server does with every write.
Each side runs a few times after a warm-up pass (shapes and expressions are compiled once per process), and the
best run counts. The UK Core run validates each resource also against the UK Core profile of its type
(`UKCore-<type>`, with its slices, fixed values, extensions, invariants and bindings) and the profiles it declares.

Run alone: .venv/bin/python -m bench.validate [PATIENTS]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.report import Row, Target
from caregate.fhir.validate import has_errors, validate
from caregate.fhir.validate.structures import shipped
from caregate.synth import generate

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"

_RUNS = 3


def sample(patients: int) -> list[dict[str, Any]]:
    return [e["resource"] for bundle in generate(patients, seed=11) for e in bundle.get("entry", [])]


def _best(work: Callable[[list[dict[str, Any]]], int], resources: list[dict[str, Any]]) -> tuple[float, int]:
    work(resources)
    best = 0.0
    result = 0
    for _ in range(_RUNS):
        start = time.perf_counter()
        result = work(resources)
        best = max(best, len(resources) / (time.perf_counter() - start))
    return best, result


def _validate(resources: list[dict[str, Any]]) -> int:
    return sum(1 for r in resources if has_errors(validate(r)))


def _validate_uk_core(resources: list[dict[str, Any]]) -> int:
    profiles = shipped()
    return sum(1 for r in resources if has_errors(validate(
        r, UK_CORE + r["resourceType"] if UK_CORE + r["resourceType"] in profiles else None)))


def _round_trip(resources: list[dict[str, Any]]) -> int:
    return sum(len(orjson.loads(orjson.dumps(r))) for r in resources)


def run(patients: int) -> list[Row]:
    resources = sample(patients)
    rate, invalid = _best(_validate, resources)
    uk_rate, uk_invalid = _best(_validate_uk_core, resources)
    base, _ = _best(_round_trip, resources)
    return [Row("validate", f"validate {len(resources):,} synthetic resources against the R4 base and the profiles "
                "they declare (single core)",
                rate, "resources/s", base, "orjson dumps + loads of the same resources",
                targets=(Target(">=", 3000),),
                note=f"{invalid} with errors; structure, formats, cardinality, bindings, invariants, references; "
                     f"best of {_RUNS}"),
            Row("validate-ukcore", f"validate {len(resources):,} synthetic resources against UK Core (single core)",
                uk_rate, "resources/s", base, "orjson dumps + loads of the same resources",
                targets=(Target(">=", 3000),),
                note=f"{uk_invalid} with errors; the base checks plus each UKCore-<type> profile and the declared "
                     f"ones; best of {_RUNS}")]


if __name__ == "__main__":
    from bench.report import render_text

    print(render_text(run(int(sys.argv[1]) if len(sys.argv) > 1 else 10), "Validation", 200))
