"""`sort([key, ...])`: order a collection by the items themselves or by key expressions, each ascending or, when
written with a leading `-`, descending (the form the official R4 suite uses; FHIRPath's continuous build
describes the function, https://build.fhir.org/ig/HL7/FHIRPath/#sortkeyselector).

Keys are evaluated per item with `$this` bound to it and must be single values that `<` can order (mixed
types are an error). An item whose key is empty comes first in either direction, which is what the suite's
`Patient.name.sort(-family, ...)` expects. The sort is stable, so equal keys keep their input order.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any

from caregate.fhir.fhirpath.runtime import Env, Eval, function
from caregate.fhir.fhirpath.values import compare, single

__all__: list[str] = []


def _compare_keys(a: Any, b: Any, descending: bool) -> int:
    if a is None or b is None:
        return (b is None) - (a is None)
    order = compare(a, b) or 0
    return -order if descending else order


@function("sort", 0, 99, kind="keys", ordered=False, keeps_type=True)
def _sort(env: Env, items: list, ctx: list, keys: tuple[tuple[Eval, bool], ...]) -> list:
    if not keys:
        rows = [([single([item], "sort()")], item) for item in items]
        directions: tuple[bool, ...] = (False,)
    else:
        saved = env.index
        try:
            rows = []
            for item in items:
                env.index = None
                rows.append(([single(key([item], env), "sort() key") for key, _ in keys], item))
        finally:
            env.index = saved
        directions = tuple(descending for _, descending in keys)

    def by_keys(left: tuple[list, Any], right: tuple[list, Any]) -> int:
        for a, b, descending in zip(left[0], right[0], directions, strict=True):
            c = _compare_keys(a, b, descending)
            if c:
                return c
        return 0

    return [item for _, item in sorted(rows, key=cmp_to_key(by_keys))]
