"""Collection functions: existence, filtering and projection, subsetting, combining, tree navigation,
`iif`, `aggregate`, `not` and `trace` (http://hl7.org/fhirpath/N1/#functions, §5.1-§5.4, §5.8, §5.9).

Iterating functions receive their arguments compiled and evaluate them once per input item with `$this`
bound to the item and `$index` to its position; they restore the outer `$index` afterwards so nested
iterations see their own.
"""

from __future__ import annotations

from caregate.fhir.fhirpath.errors import FhirPathEvaluationError
from caregate.fhir.fhirpath.model import Node, children
from caregate.fhir.fhirpath.runtime import Env, Eval, function
from caregate.fhir.fhirpath.values import distinct, hash_key, single, to_boolean, to_system

__all__: list[str] = []


@function("empty")
def _empty(env: Env, items: list) -> list:
    return [not items]


@function("exists", 0, 1, kind="lambda")
def _exists(env: Env, items: list, ctx: list, criteria: Eval | None = None) -> list:
    if criteria is None:
        return [bool(items)]
    return [bool(_where(env, items, ctx, criteria))]


@function("all", 1, kind="lambda")
def _all(env: Env, items: list, ctx: list, criteria: Eval) -> list:
    saved = env.index
    try:
        for i, item in enumerate(items):
            env.index = i
            if to_boolean(criteria([item], env), "all()") is not True:
                return [False]
    finally:
        env.index = saved
    return [True]


def _booleans(items: list, what: str) -> list[bool]:
    values = [to_system(item) for item in items]
    if any(v is not True and v is not False for v in values):
        raise FhirPathEvaluationError(f"{what} needs a collection of Booleans")
    return values


@function("allTrue")
def _all_true(env: Env, items: list) -> list:
    return [all(_booleans(items, "allTrue()"))]


@function("anyTrue")
def _any_true(env: Env, items: list) -> list:
    return [any(_booleans(items, "anyTrue()"))]


@function("allFalse")
def _all_false(env: Env, items: list) -> list:
    return [not any(_booleans(items, "allFalse()"))]


@function("anyFalse")
def _any_false(env: Env, items: list) -> list:
    return [not all(_booleans(items, "anyFalse()"))]


@function("subsetOf", 1)
def _subset_of(env: Env, items: list, other: list) -> list:
    keys = {hash_key(item) for item in other}
    return [all(hash_key(item) in keys for item in items)]


@function("supersetOf", 1)
def _superset_of(env: Env, items: list, other: list) -> list:
    keys = {hash_key(item) for item in items}
    return [all(hash_key(item) in keys for item in other)]


@function("count")
def _count(env: Env, items: list) -> list:
    return [len(items)]


@function("distinct", keeps_type=True)
def _distinct(env: Env, items: list) -> list:
    return distinct(items)


@function("isDistinct")
def _is_distinct(env: Env, items: list) -> list:
    return [len(distinct(items)) == len(items)]


@function("where", 1, kind="lambda", keeps_type=True)
def _where(env: Env, items: list, ctx: list, criteria: Eval) -> list:
    out = []
    saved = env.index
    try:
        for i, item in enumerate(items):
            env.index = i
            if to_boolean(criteria([item], env), "where()") is True:
                out.append(item)
    finally:
        env.index = saved
    return out


@function("select", 1, kind="lambda")
def _select(env: Env, items: list, ctx: list, projection: Eval) -> list:
    out: list = []
    saved = env.index
    try:
        for i, item in enumerate(items):
            env.index = i
            out.extend(projection([item], env))
    finally:
        env.index = saved
    return out


def _identity(item: object) -> object:
    # Elements of one resource are distinct objects: identity ends repeat() on trees, values on literals.
    if item.__class__ is Node and item.data.__class__ is dict:
        return ("node", id(item.data))
    return hash_key(item)


@function("repeat", 1, kind="lambda")
def _repeat(env: Env, items: list, ctx: list, projection: Eval) -> list:
    out: list = []
    seen: set = set()
    level = items
    while level:
        found = []
        for item in level:
            for result in projection([item], env):
                key = _identity(result)
                if key not in seen:
                    seen.add(key)
                    found.append(result)
        out.extend(found)
        level = found
    return out


@function("single", keeps_type=True)
def _single(env: Env, items: list) -> list:
    single(items, "single()")
    return items


@function("first", ordered=True, keeps_type=True)
def _first(env: Env, items: list) -> list:
    return items[:1]


@function("last", ordered=True, keeps_type=True)
def _last(env: Env, items: list) -> list:
    return items[-1:]


@function("tail", ordered=True, keeps_type=True)
def _tail(env: Env, items: list) -> list:
    return items[1:]


def _count_arg(arg: list, what: str) -> int | None:
    value = to_system(single(arg, what))
    if value is not None and value.__class__ is not int:
        raise FhirPathEvaluationError(f"{what} needs an Integer")
    return value


@function("skip", 1, ordered=True, keeps_type=True)
def _skip(env: Env, items: list, num: list) -> list:
    n = _count_arg(num, "skip()")
    return [] if n is None else items[max(n, 0) :]


@function("take", 1, ordered=True, keeps_type=True)
def _take(env: Env, items: list, num: list) -> list:
    n = _count_arg(num, "take()")
    return [] if n is None or n <= 0 else items[:n]


@function("intersect", 1, keeps_type=True)
def _intersect(env: Env, items: list, other: list) -> list:
    keys = {hash_key(item) for item in other}
    return distinct([item for item in items if hash_key(item) in keys])


@function("exclude", 1, keeps_type=True)
def _exclude(env: Env, items: list, other: list) -> list:
    keys = {hash_key(item) for item in other}
    return [item for item in items if hash_key(item) not in keys]


@function("union", 1)
def _union(env: Env, items: list, other: list) -> list:
    return distinct(items + other)


@function("combine", 1)
def _combine(env: Env, items: list, other: list) -> list:
    return items + other


@function("children")
def _children(env: Env, items: list) -> list:
    out: list = []
    for item in items:
        if item.__class__ is Node:
            out.extend(children(item))
    return out


@function("descendants")
def _descendants(env: Env, items: list) -> list:
    out: list = []
    level = items
    while level:
        level = _children(env, level)
        out.extend(level)
    return out


@function("iif", 2, 3, kind="lambda")
def _iif(env: Env, items: list, ctx: list, criterion: Eval, then: Eval, otherwise: Eval | None = None) -> list:
    """`iif(criterion, true-result [, otherwise-result])`: only the chosen branch is evaluated; with an
    explicit input, `$this` is that input inside the arguments."""
    if len(items) > 1:
        raise FhirPathEvaluationError("iif() expects at most one input item")
    if to_boolean(criterion(items, env), "iif()", env.strict) is True:
        return then(items, env)
    return [] if otherwise is None else otherwise(items, env)


@function("not")
def _not(env: Env, items: list) -> list:
    value = to_boolean(items, "not()")
    return [] if value is None else [not value]


@function("aggregate", 1, 2, kind="lambda")
def _aggregate(env: Env, items: list, ctx: list, aggregator: Eval, init: Eval | None = None) -> list:
    """`aggregate(aggregator [, init])`: `$total` starts as `init` and becomes each step's result."""
    saved_index, saved_total = env.index, env.total
    total = [] if init is None else init(ctx, env)
    try:
        for i, item in enumerate(items):
            env.index, env.total = i, total
            total = aggregator([item], env)
    finally:
        env.index, env.total = saved_index, saved_total
    return total


@function("trace", 1, 2, kind="lambda")
def _trace(env: Env, items: list, ctx: list, name: Eval, projection: Eval | None = None) -> list:
    """Pass the input through, handing it (or its projection) to the caller's tracer, if any."""
    if env.tracer is not None:
        label = single(name(ctx, env), "trace()")
        env.tracer(str(to_system(label)), items if projection is None else projection(items, env))
    return items
