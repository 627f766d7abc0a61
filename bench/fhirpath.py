"""FHIRPath invariants per second: what checking R4 constraints (https://hl7.org/fhir/R4/conformance-rules.html#
constraints) costs on synthetic records (`caregate.synth`), beside plain Python walking the same JSON.

Each invariant is the R4 expression, evaluated by the compiled engine (`caregate.fhir.fhirpath`) on each of its
contexts (the resource, `Encounter.period`, an Observation's Quantity values, every element for ele-1); the
baseline is a hand-written function answering the same question on the same dicts. Both sides find the contexts
themselves and are checked to give the same answers, so the ratio is the price of a general engine over code
written for one rule. Compiling is timed apart (uncached), since a validator compiles each expression once.

Run alone: .venv/bin/python -m bench.fhirpath [PATIENTS]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.report import Row
from caregate.fhir import fhirpath as fp
from caregate.synth import generate

Json = dict[str, Any]
_RUNS = 3


@dataclass(frozen=True, slots=True)
class Invariant:
    """An R4 constraint: where it applies (resource type or `*`), how to find its contexts, both ways."""

    key: str
    applies_to: str
    context: str | None  # FHIRPath from the resource to the contexts; None: the resource itself
    expression: str
    plain_contexts: Callable[[Json], list[Any]]
    plain: Callable[[Any, Json], bool]


def _itself(r: Json) -> list[Any]:
    return [r]


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference" and isinstance(v, str):
                yield v
            else:
                yield from _references(v)
    elif isinstance(value, list):
        for v in value:
            yield from _references(v)


def _dom_3(r: Json, _: Json) -> bool:
    contained = r.get("contained") or []
    if not contained:
        return True
    refs = set(_references(r))
    return all("#" + c.get("id", "") in refs or "#" in refs for c in contained)


def _obs_7(r: Json, _: Json) -> bool:
    if not any(k.startswith("value") for k in r):
        return True
    codes = {(c.get("system"), c.get("code")) for c in r.get("code", {}).get("coding", [])}
    return not any((c.get("system"), c.get("code")) in codes
                   for comp in r.get("component", []) for c in comp.get("code", {}).get("coding", []))


def _per_1(period: Json, _: Json) -> bool:
    start, end = period.get("start"), period.get("end")
    # Same-precision ISO strings with the same offset order as text, which the synthetic data always has.
    return start is None or end is None or start <= end


def _quantities(r: Json) -> list[Json]:
    found = [r["valueQuantity"]] if "valueQuantity" in r else []
    return found + [c["valueQuantity"] for c in r.get("component", []) if "valueQuantity" in c]


INVARIANTS = (
    Invariant("dom-2", "*", None, "contained.contained.empty()", _itself,
              lambda r, _: not any(c.get("contained") for c in r.get("contained", []))),
    Invariant("dom-3", "*", None,
              "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical)"
              " | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where("
              "reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants()."
              "where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()", _itself, _dom_3),
    Invariant("dom-4", "*", None, "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()", _itself,
              lambda r, _: not any(set(c.get("meta", {})) & {"versionId", "lastUpdated"}
                                   for c in r.get("contained", []))),
    Invariant("dom-5", "*", None, "contained.meta.security.empty()", _itself,
              lambda r, _: not any(c.get("meta", {}).get("security") for c in r.get("contained", []))),
    Invariant("dom-6", "*", None, "text.`div`.exists()", _itself, lambda r, _: bool(r.get("text", {}).get("div"))),
    Invariant("obs-6", "Observation", None, "dataAbsentReason.empty() or value.empty()", _itself,
              lambda r, _: "dataAbsentReason" not in r or not any(k.startswith("value") for k in r)),
    Invariant("obs-7", "Observation", None,
              "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()",
              _itself, _obs_7),
    Invariant("per-1", "Encounter", "period", "start.hasValue().not() or end.hasValue().not() or (start <= end)",
              lambda r: [r["period"]] if "period" in r else [], _per_1),
    Invariant("qty-3", "Observation", "value.ofType(Quantity) | component.value.ofType(Quantity)",
              "code.empty() or system.exists()", _quantities, lambda q, _: "code" not in q or "system" in q),
)
ELE_1 = "hasValue() or (children().count() > id.count())"


def _elements(value: Any) -> Iterator[Any]:
    """Every element below a resource, as ele-1 sees them: objects and primitive values (not the root, nor
    `resourceType`; a primitive's `_name` companion belongs to the primitive)."""
    items = [v for k, v in value.items() if k != "resourceType" and k[0] != "_"] if isinstance(value, dict) else value
    for v in items:
        for item in v if isinstance(v, list) else [v]:
            if item is None:
                continue
            yield item
            if isinstance(item, (dict, list)):
                yield from _elements(item)


def _plain_ele_1(value: Any) -> bool:
    return bool(value) if isinstance(value, dict) else value is not None


def sample(patients: int) -> list[Json]:
    return [e["resource"] for bundle in generate(patients, seed=11) for e in bundle.get("entry", [])]


def _applicable(resource: Json) -> list[Invariant]:
    return [i for i in INVARIANTS if i.applies_to in ("*", resource["resourceType"])]


def _engine(resources: list[Json]) -> tuple[int, list[bool | None]]:
    compiled = {i.key: (fp.compile(i.context) if i.context else None, fp.compile(i.expression)) for i in INVARIANTS}
    answers: list[bool | None] = []
    for resource in resources:
        root = fp.Node.of(resource)
        for inv in _applicable(resource):
            context, expr = compiled[inv.key]
            for node in context.evaluate(root) if context else [root]:
                answers.append(expr.evaluate_boolean(root, context=node))
    return len(answers), answers


def _baseline(resources: list[Json]) -> tuple[int, list[bool | None]]:
    answers: list[bool | None] = []
    for resource in resources:
        for inv in _applicable(resource):
            for context in inv.plain_contexts(resource):
                answers.append(inv.plain(context, resource))
    return len(answers), answers


def _engine_ele_1(resources: list[Json]) -> tuple[int, list[bool | None]]:
    everything, ele_1 = fp.compile("descendants()"), fp.compile(ELE_1)
    answers = []
    for resource in resources:
        root = fp.Node.of(resource)
        answers += [ele_1.evaluate_boolean(root, context=node) for node in everything.evaluate(root)]
    return len(answers), answers


def _baseline_ele_1(resources: list[Json]) -> tuple[int, list[bool | None]]:
    answers = [_plain_ele_1(v) for r in resources for v in _elements(r)]
    return len(answers), answers


def _best(fn: Callable[[list[Json]], tuple[int, list]], resources: list[Json]) -> tuple[float, int, list]:
    best, count, answers = 0.0, 0, []
    for _ in range(_RUNS):
        start = time.perf_counter()
        count, answers = fn(resources)
        best = max(best, count / (time.perf_counter() - start))
    return best, count, answers


def _compiles_per_second() -> float:
    texts = [i.expression for i in INVARIANTS] + [ELE_1]
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < 1.0:
        for text in texts:
            fp.Expression(text)
        rounds += 1
    return rounds * len(texts) / (time.perf_counter() - start)


def _agreement(engine: list, plain: list) -> str:
    if len(engine) != len(plain):
        return f"MISMATCH: {len(engine)} engine answers, {len(plain)} baseline answers"
    differ = sum(1 for a, b in zip(engine, plain, strict=True) if bool(a) != bool(b) and a is not None)
    return "same answers as the baseline" if not differ else f"MISMATCH on {differ} answers"


def run(patients: int) -> list[Row]:
    resources = sample(patients)
    rate, count, engine_answers = _best(_engine, resources)
    base, _, plain_answers = _best(_baseline, resources)
    keys = ", ".join(i.key for i in INVARIANTS)
    rows = [Row("fhirpath", f"R4 invariants ({keys}) on {len(resources):,} synthetic resources", rate,
                "evaluations/s", base, "plain Python over the same dicts",
                note=f"{count:,} evaluations per run, contexts found by each side; "
                     f"{_agreement(engine_answers, plain_answers)}; best of {_RUNS}")]
    rate, count, engine_answers = _best(_engine_ele_1, resources)
    base, _, plain_answers = _best(_baseline_ele_1, resources)
    rows.append(Row("fhirpath", "ele-1 on every element (descendants())", rate, "elements/s", base,
                    "recursive dict walk", note=f"{count:,} elements per run; "
                                                f"{_agreement(engine_answers, plain_answers)}; best of {_RUNS}"))
    rows.append(Row("fhirpath", "compile an invariant (parse + closures, uncached)", _compiles_per_second(),
                    "expressions/s", note="once per expression; compile() caches by text"))
    return rows


if __name__ == "__main__":
    from bench.report import render_text

    print(render_text(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5), "FHIRPath invariants", 200))
