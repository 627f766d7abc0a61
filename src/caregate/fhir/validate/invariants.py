"""Running the FHIRPath invariants of element definitions (https://hl7.org/fhir/R4/conformance-rules.html#constraints).

Each constraint is compiled once by the FHIRPath engine and evaluated with the element as its context and
the enclosing resource as `%resource`. A constraint that does not hold is reported with its own severity.
One the engine cannot compile or run is reported as a warning naming it: it is never passed silently.

Two invariants that every element or extension carries are checked natively by the structural walk, with
the same meaning and without the cost of an engine call per element: `ele-1` (an element has a value or
children, the empty-element rule) and `ext-1` (an extension has either extensions or a value, not both);
so are the narrative rules `txt-1` and `txt-2` (rules.py).
The `dom-2`..`dom-5` rules only speak about contained resources, so they are evaluated only when there are.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from caregate.fhir import fhirpath
from caregate.fhir.fhirpath import Expression, Node
from caregate.fhir.validate.model import NATIVE, Constraint, constraint_table

__all__ = ["run_constraint"]

Report = Callable[[str, str, str, str], None]

_compiled: dict[str, Expression | str] = {}


def _no(*names: str) -> Callable[[dict], bool]:
    return lambda data: not any(name in data for name in names)


# Conditions under which an R4 invariant holds whatever the rest of the element says, read off its expression:
# when one is true the engine is not called (the answer would be true). Each applies only to the exact R4
# expression of its key, so a profile reusing a key with another expression is always evaluated.
_GUARDS: dict[str, Callable[[dict], bool]] = {
    "dom-2": _no("contained"), "dom-4": _no("contained"), "dom-5": _no("contained"),
    "dom-3": lambda d: "contained" not in d or _narrated(d),
    # reference.startsWith('#').not() or ...
    "ref-1": lambda d: not (isinstance(d.get("reference"), str) and d["reference"].startswith("#")),
    "qty-3": lambda d: "code" not in d or "system" in d,  # code.empty() or system.exists()
    "per-1": lambda d: "start" not in d or "end" not in d,  # start.hasValue().not() or end.hasValue().not() or ...
    "obs-6": _no("dataAbsentReason"),  # dataAbsentReason.empty() or value.empty()
    "obs-7": _no("component"),  # value.empty() or component.code.where(...).empty()
    "dom-6": lambda d: isinstance(d.get("text"), dict) and "div" in d["text"],  # text.`div`.exists()
}


def _narrated(resource: dict) -> bool:
    """Every contained resource is pointed to from a narrative of the resource (`<a href="#id">`, `<img
    src="#id">`, in `text` or in a section's text), which the reference validator also counts as a reference,
    although the R4 dom-3 expression does not."""
    divs: list[str] = []
    stack: list[object] = [v for k, v in resource.items() if k != "contained"]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            div = item.get("div")
            if isinstance(div, str):
                divs.append(div)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    if not divs:
        return False
    text = "".join(divs)
    contained = resource["contained"] if isinstance(resource["contained"], list) else [None]
    ids = [c.get("id") if isinstance(c, dict) else None for c in contained]
    return all(isinstance(i, str) and (f'"#{i}"' in text or f"'#{i}'" in text) for i in ids)


@cache
def _base_expression() -> dict[str, str]:
    return {c.key: c.expression for c in constraint_table()}


def _compile(expression: str) -> Expression | str:
    found = _compiled.get(expression)
    if found is None:
        try:
            found = fhirpath.compile(expression, lenient_as=True)
        except Exception as exc:  # any failure to compile means "cannot be checked", reported below
            found = f"{type(exc).__name__}: {exc}"
        _compiled[expression] = found
    return found


def run_constraint(c: Constraint, root: Node, node: Node, loc: str, report: Report) -> None:
    """Evaluate one constraint on `node` (inside the resource `root`); report a failure or an inability."""
    if c.key in NATIVE:
        return
    if c.key == "dom-6" and node.name == "contained":
        return  # a contained resource's narrative is part of its container's (references.html#contained)
    guard = _GUARDS.get(c.key)
    if guard is not None and node.data.__class__ is dict and _base_expression().get(c.key) == c.expression \
            and guard(node.data):
        return
    expr = _compile(c.expression)
    if isinstance(expr, str):
        report("warning", "not-supported", f"Constraint {c.key} could not be checked: the expression "
               f"'{c.expression}' cannot be compiled ({expr}).", loc)
        return
    try:
        result = expr.evaluate_boolean(root, context=node)
    except Exception as exc:  # the engine could not run it: say so, never pass silently
        report("warning", "not-supported", f"Constraint {c.key} could not be checked: evaluating "
               f"'{c.expression}' failed ({type(exc).__name__}: {exc}).", loc)
        return
    if result is False:  # an empty result leaves the invariant unrefuted (FHIRPath three-valued logic)
        severity = "error" if c.severity == "error" else "warning"
        report(severity, "invariant", f"Constraint {c.key} failed: {c.human}", loc)
