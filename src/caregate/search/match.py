"""Evaluate a `SearchQuery` on one resource in memory: the answer the database would give, without it.

Subscriptions (https://hl7.org/fhir/R4/subscription.html, whose `criteria` is a search URL) and
conditional interactions need to know whether *one* resource matches a search. Rather than interpret
FHIRPath again, the resource is indexed once with `index_resource` - the very rows the store writes - and
every clause is evaluated on those rows with the comparisons `storage.sql.compiler` writes in SQL. The
semantics therefore agree by construction: string prefix on the normalized form (search.html#string),
token system|code (search.html#token), reference type/id/url (search.html#reference), date and number
ranges with prefixes over implicit precision ranges (search.html#prefix, #date, #number), quantities
(search.html#quantity, in canonical UCUM units when the search names a convertible unit), uri `:below`/`:above`
(search.html#uri), `:missing`, `:not`, `:of-type` and reference `:identifier` (search.html#modifiers), and
`_list` (search.html#list) through the List itself.

`_text` and `_content` (search.html#content) are the one approximation: both engines run their own
full-text tokenizers (SQLite FTS5, PostgreSQL tsvector), which already differ on punctuated tokens such as
`4.7`; here every word (letters and digits) of the search must be a word of the same normalized text the
store indexes (`caregate.search.fulltext`), which agrees with both on plain words.

Where the in-memory answer deliberately differs from today's SQL, it is because the SQL is wrong and this
module follows the specification (the differences are pinned as strict xfails in tests/search/test_match.py):
`_id:not` excludes the id (search.html#modifiers), a chain only follows a reference to a target of the
type it names (search.html#chaining), parameters of a type-less search apply to every type (search.html#all),
and `:text` is case-insensitive beyond ASCII (search.html#token).

`_id` and `_lastUpdated` come from the resource itself (`id`, `meta.lastUpdated`), as the store answers them
from its own columns; a contained resource has its local id and its container's lastUpdated, as stored.

Contained resources (search.html#contained) are matched as the store indexes them: a chain follows a local
reference `#id` of the resource into the resource it contains, and `_contained=true|both` tests the contained
resources themselves; `Matcher.results` lists what a search would return for one resource, by
`_containedType` the resource itself or the contained ones that match.

A query's matcher is compiled once and cached, so repeated evaluation (one subscription, many changes) only
indexes the resource and runs closures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from caregate.errors import FhirError
from caregate.search import ucum
from caregate.search.dates import parse_range
from caregate.search.extract import CANONICAL, IndexRows, index_resource, normalize
from caregate.search.fulltext import content_text_from_json, narrative_text
from caregate.search.query import (
    Clause,
    CodeSetValue,
    CompositeValue,
    QuantityValue,
    RangeValue,
    ReferenceValue,
    SearchQuery,
    TokenValue,
)
from caregate.search.registry import Registry

__all__ = ["Indexed", "Matcher", "Referrers", "Resolve", "compile_matcher", "match"]

Resolve = Callable[[str, str], dict | None]
"""`resolve(type, id)`: the current version of a resource, or None when it does not exist or is deleted."""

Referrers = Callable[[str, str, str, str], Iterable[dict]]
"""`referrers(referring type, its reference parameter code, target type, target id)`: the current resources
of the referring type whose parameter refers to the target (extra candidates are harmless: each is checked)."""

_TOP = "\U0010ffff"  # the compiler's upper bound of a prefix range: `norm >= x AND norm < x || U+10FFFF`
_ROWS = {
    "string": "strings",
    "token": "tokens",
    "reference": "references",
    "date": "dates",
    "number": "numbers",
    "quantity": "quantities",
    "uri": "uris",
    "composite": "composites",
}
_RESOURCE_COLUMNS = frozenset({"_id", "_lastUpdated"})
_FULLTEXT = frozenset({"_text", "_content"})
_TOKEN_MODIFIERS = frozenset({"of-type", "identifier"})  # rows kept under `code:modifier` in the token table
_WORD = re.compile(r"[^\W_]+")
CONTAINED_LIMIT = 1024  # as storage.sql.schema.CONTAINED_PER_RESOURCE (storage sits above this layer)
_NEEDS_RESOLVE = ("This search has a chained parameter (search.html#chaining) or _list (search.html#list): "
                  "pass resolve(type, id) to fetch the resources it names.")


class Indexed:
    """One resource with its index rows grouped by parameter code, built once and shared by many matchers.

    Subscriptions test one changed resource against every active criteria: index it once with
    `Indexed(resource)` and pass that to each matcher instead of the dict.
    """

    __slots__ = ("_by_kind", "_contained", "_registry", "_words", "container", "id", "last_updated", "resource",
                 "rows", "type")

    def __init__(self, resource: dict[str, Any], registry: Registry | None = None,
                 container: Indexed | None = None) -> None:
        self.resource = resource
        rtype, rid = resource.get("resourceType"), resource.get("id")
        self.type: str | None = rtype if isinstance(rtype, str) else None
        self.id: str | None = rid if isinstance(rid, str) else None
        self.rows: IndexRows = index_resource(resource, registry)
        self._by_kind: dict[str, dict[str, list[tuple]]] = {}
        self.container = container  # set on a contained resource: the resource holding it
        self.last_updated: int | None = container.last_updated if container is not None else _last_updated(resource)
        self._words: dict[str, frozenset[str]] = {}
        self._registry = registry
        self._contained: list[Indexed] | None = None

    def contained(self) -> list[Indexed]:
        """The resources this one contains that the store indexes: those with a type and an id, within the
        store's limit per container (`storage.sql.schema.CONTAINED_PER_RESOURCE`)."""
        if self._contained is None:
            items = self.resource.get("contained") if self.container is None else None
            self._contained = [
                Indexed(c, self._registry, self) for c in (items if isinstance(items, list) else ())[:CONTAINED_LIMIT]
                if isinstance(c, dict) and isinstance(c.get("resourceType"), str) and isinstance(c.get("id"), str)
            ]
        return self._contained

    def local(self, ref: str) -> Indexed | None:
        """The contained resource a local reference `#id` of this (top-level) resource names."""
        if not ref.startswith("#"):
            return None
        return next((c for c in self.contained() if c.id == ref[1:]), None)

    def values(self, kind: str, code: str) -> list[tuple]:
        """Rows of one parameter of one search type, without the leading code (the table's columns)."""
        grouped = self._by_kind.get(kind)
        if grouped is None:
            grouped = {}
            for row in getattr(self.rows, _ROWS[kind]):
                grouped.setdefault(row[0], []).append(row[1:])
            self._by_kind[kind] = grouped
        return grouped.get(code, [])

    def words(self, code: str) -> frozenset[str]:
        """Full-text words: the narrative for `_text`, narrative and content for `_content`."""
        found = self._words.get(code)
        if found is None:
            text = narrative_text(self.resource)
            if code == "_content":
                text += " " + content_text_from_json(orjson.dumps(self.resource))
            found = self._words[code] = frozenset(_WORD.findall(normalize(text)))
        return found


def _last_updated(resource: dict[str, Any]) -> int | None:
    """`meta.lastUpdated` as its first microsecond: the point the store keeps in its `lu` column."""
    meta = resource.get("meta")
    text = meta.get("lastUpdated") if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return parse_range(text)[0]
    except ValueError:
        return None


@dataclass(slots=True)
class _Context:
    """What one evaluation may consult beyond the resource: other resources, and a cache of their rows."""

    resolve: Resolve | None
    referrers: Referrers | None
    registry: Registry | None
    seen: dict[tuple[str, str], Indexed | None]

    def target(self, rtype: str, rid: str) -> Indexed | None:
        key = (rtype, rid)
        if key not in self.seen:
            if self.resolve is None:
                raise ValueError(_NEEDS_RESOLVE)
            found = self.resolve(rtype, rid)
            self.seen[key] = Indexed(found, self.registry) if found is not None else None
        return self.seen[key]


Pred = Callable[[Indexed, _Context], bool]
RowTest = Callable[[tuple], bool]


# --------------------------------------------------------------------------------------------- values


def _range_test(prefix: str, qlo: float, qhi: float) -> Callable[[float, float], bool]:
    """A stored inclusive [lo, hi] against the search range [qlo, qhi] (search.html#prefix), as `_range_sql`."""
    if prefix == "eq":
        return lambda lo, hi: lo >= qlo and hi <= qhi
    if prefix == "ne":
        return lambda lo, hi: not (lo >= qlo and hi <= qhi)
    if prefix == "gt":
        return lambda lo, hi: hi > qhi
    if prefix == "lt":
        return lambda lo, hi: lo < qlo
    if prefix == "ge":
        return lambda lo, hi: hi > qhi or (lo >= qlo and hi <= qhi)
    if prefix == "le":
        return lambda lo, hi: lo < qlo or (lo >= qlo and hi <= qhi)
    if prefix == "sa":
        return lambda lo, hi: lo > qhi
    if prefix == "eb":
        return lambda lo, hi: hi < qlo
    width = max((qhi - qlo) * 0.1, 0)  # ap: overlap with the search range widened by 10% of its size
    upper, lower = qhi + width, qlo - width
    return lambda lo, hi: lo <= upper and hi >= lower


def _string_test(modifier: str | None, text: str) -> RowTest:
    """Rows (norm, exact); search.html#string: prefix by default, `:exact` as written, `:contains` anywhere."""
    if modifier == "exact":
        return lambda row: row[1] == text
    norm = normalize(text)
    if modifier == "contains":
        return lambda row: norm in row[0]
    upper = norm + _TOP
    return lambda row: norm <= row[0] < upper


def _token_test(modifier: str | None, value: object) -> RowTest:
    """Rows (system, code, text); search.html#token: `[system]|[code]`, `|code`, `system|`, `:text`."""
    if modifier == "text":
        needle = normalize(str(value))
        return lambda row: row[2] is not None and needle in normalize(row[2])
    if isinstance(value, CodeSetValue):
        pairs, bare = value.codes, value.bare
        return lambda row: (row[0], row[1]) in pairs if row[0] is not None else row[1] in bare
    assert isinstance(value, TokenValue)
    code, system, no_system = value.code, value.system, value.no_system
    return lambda row: ((code is None or row[1] == code)
                        and (row[0] is None if no_system else system is None or row[0] == system))


def _reference_test(clause: Clause, value: object) -> RowTest:
    """Rows (type, id, version, url); search.html#reference: `Type/id`, `id` with `:Type`, or a URL."""
    assert isinstance(value, ReferenceValue)
    modifier = clause.modifier
    version = value.version or None
    if value.url is not None:
        url = value.url
        return lambda row: row[3] == url and (version is None or row[2] == version)
    rid = value.id
    if rid is None:
        return lambda row: False
    rtype = value.type or (modifier if modifier and modifier[:1].isupper() else None)
    return lambda row: (row[1] == rid and (rtype is None or row[0] == rtype)
                        and (version is None or row[2] == version))


def _pair_test(value: object) -> Callable[[Any, Any], bool]:
    """A token (system, code) or reference (type, id) component against a composite row's pair."""
    if isinstance(value, ReferenceValue):
        rtype, rid = value.type, value.id
        return lambda kind, ident: ident == rid and (rtype is None or kind == rtype)
    assert isinstance(value, TokenValue)
    code, system, no_system = value.code, value.system, value.no_system
    return lambda sys_, c: ((code is None or c == code)
                            and (sys_ is None if no_system else system is None or sys_ == system))


def _composite_test(value: CompositeValue) -> RowTest:
    """Rows (a1, a2, b1, b2, num, lo, hi) of `caregate.search.composite`: both components on one row."""
    first, second = value.parts
    a = _pair_test(first)
    kind = value.kinds[1]
    if kind == "token":
        b = _pair_test(second)
        return lambda row: a(row[0], row[1]) and b(row[2], row[3])
    if kind == "quantity":
        assert isinstance(second, QuantityValue)
        in_range = _range_test(second.prefix, second.low, second.high)
        system, code = second.system, second.code
        return lambda row: (a(row[0], row[1]) and row[4] is not None and in_range(row[4], row[4])
                            and (not system or row[2] == system) and (not code or row[3] == code))
    if kind in ("number", "date"):
        assert isinstance(second, RangeValue)
        in_range = _range_test(second.prefix, second.low, second.high)
        if kind == "number":
            return lambda row: a(row[0], row[1]) and row[4] is not None and in_range(row[4], row[4])
        return lambda row: a(row[0], row[1]) and row[5] is not None and in_range(row[5], row[6])
    norm = normalize(str(second))
    return lambda row: a(row[0], row[1]) and row[3] is not None and norm <= row[3] < norm + _TOP


def _uri_test(modifier: str | None, text: str) -> RowTest:
    """Rows (uri,); search.html#uri: equal, `:below` (starts with), `:above` (a parent path of the value)."""
    if modifier == "below":
        upper = text + _TOP
        return lambda row: text <= row[0] < upper
    if modifier == "above":
        parents = frozenset(text[:i] for i in range(len(text), 0, -1) if i == len(text) or text[i] == "/")
        return lambda row: row[0] in parents
    return lambda row: row[0] == text


def _quantity_test(value: QuantityValue) -> tuple[bool, RowTest]:
    """Rows (system, code, unit, value); search.html#quantity: `[prefix]number|system|code`, code or unit.

    A UCUM unit that converts is compared in canonical units against the canonical rows (first of the pair:
    True), so `mg` finds values recorded in `g`; other units are compared as written.
    """
    converted = ucum.canonical(value.code) if value.code and value.system == ucum.SYSTEM else None
    if converted is not None:
        unit, factor = converted
        scaled = _range_test(value.prefix, value.low * factor, value.high * factor)
        return True, lambda row: scaled(row[3], row[3]) and row[1] == unit
    in_range = _range_test(value.prefix, value.low, value.high)
    system, code = value.system or None, value.code or None
    return False, lambda row: (in_range(row[3], row[3]) and (system is None or row[0] == system)
                               and (code is None or row[1] == code or row[2] == code))


def _value_test(clause: Clause, value: object) -> tuple[str, str, RowTest]:
    """One OR-ed value of a clause: which rows it reads (search type, index code) and its test of one row."""
    kind, code, modifier = clause.param.type, clause.param.code, clause.modifier
    if modifier in _TOKEN_MODIFIERS and kind in ("token", "reference"):
        return "token", f"{code}:{modifier}", _token_test(modifier, value)
    if kind == "quantity":
        assert isinstance(value, QuantityValue)
        canonical, test = _quantity_test(value)
        return kind, code + CANONICAL if canonical else code, test
    return kind, code, _row_test(clause, value)


def _row_test(clause: Clause, value: object) -> RowTest:
    """The test of one row of the parameter's own table, by search parameter type."""
    kind = clause.param.type
    if kind == "string":
        return _string_test(clause.modifier, str(value))
    if kind == "token":
        return _token_test(clause.modifier, value)
    if kind == "reference":
        return _reference_test(clause, value)
    if kind == "uri":
        return _uri_test(clause.modifier, str(value))
    if kind in ("date", "number"):
        assert isinstance(value, RangeValue)
        test = _range_test(value.prefix, value.low, value.high)
        return lambda row: test(row[0], row[1])
    if kind == "composite":
        assert isinstance(value, CompositeValue)
        return _composite_test(value)
    raise FhirError("not-allowed", f"Searching on {kind} parameter '{clause.name}' is not supported yet.",
                    (clause.name,))


# --------------------------------------------------------------------------------------------- clauses


def _resource_column_pred(clause: Clause) -> Pred:
    """`_id` (token) and `_lastUpdated` (date) are answered from the resource itself (search.html#all)."""
    if clause.missing is not None:
        present = not clause.missing  # every stored resource has an id and a lastUpdated
        return lambda item, ctx: present
    if clause.param.code == "_id":
        if clause.modifier == "text" or not all(isinstance(v, TokenValue) for v in clause.values):
            raise FhirError("not-allowed", f"The modifier on '{clause.name}' is not supported.", (clause.name,))
        ids = frozenset(v.code for v in clause.values if isinstance(v, TokenValue))
        negate = clause.modifier == "not"
        return lambda item, ctx: (item.id in ids) != negate
    tests = []
    for value in clause.values:
        assert isinstance(value, RangeValue)
        tests.append(_range_test(value.prefix, value.low, value.high))

    def last_updated(item: Indexed, ctx: _Context) -> bool:
        lu = item.last_updated
        return lu is not None and any(test(lu, lu) for test in tests)

    return last_updated


def _rows_pred(clause: Clause) -> Pred:
    """An ordinary clause: some row of the parameter passes some value (none may, with `:not`)."""
    kind, code = clause.param.type, clause.param.code
    if kind not in _ROWS:
        raise FhirError("not-allowed", f"Searching on '{clause.name}' is not supported yet.", (clause.name,))
    if clause.missing is not None:
        missing = clause.missing
        return lambda item, ctx: (not item.values(kind, code)) == missing
    tests = [_value_test(clause, value) for value in clause.values]
    if len({(k, c) for k, c, _ in tests}) == 1:  # the usual case: every value reads the same rows
        row_kind, row_code = tests[0][0], tests[0][1]
        same = [t for _, _, t in tests]

        def any_row(item: Indexed, ctx: _Context) -> bool:
            return any(t(row) for row in item.values(row_kind, row_code) for t in same)
    else:

        def any_row(item: Indexed, ctx: _Context) -> bool:
            return any(t(row) for k, c, t in tests for row in item.values(k, c))

    if clause.modifier in ("not", "not-in"):
        return lambda item, ctx: not any_row(item, ctx)
    return any_row


def _chain_pred(clause: Clause) -> Pred:
    """search.html#chaining: some reference of the parameter points at a resource of one of the chain's
    types that satisfies the inner clause, evaluated on that resource as its own type."""
    assert clause.chain is not None
    targets, inner = clause.chain
    code = clause.param.code
    inner_pred = _clause_pred(inner)
    wanted = frozenset(targets)

    def chained(item: Indexed, ctx: _Context) -> bool:
        for ttype, tid, _version, url in item.values("reference", code):
            if ttype not in wanted:
                continue
            if tid is None:  # a local reference is evaluated inside the contained resource (search.html#contained)
                local = item.local(url) if item.container is None else None
                if local is not None and local.type in wanted and inner_pred(local, ctx):
                    return True
                continue
            target = ctx.target(ttype, tid)
            if target is not None and target.type == ttype and inner_pred(target, ctx):
                return True
        return False

    return chained


def _has_pred(clause: Clause) -> Pred:
    """search.html#has: some resource of the named type refers to this one through the named reference
    parameter and satisfies the inner clause (which may itself chain or nest `_has`)."""
    assert clause.has is not None
    other, ref_param, inner = clause.has
    inner_pred = _clause_pred(inner)
    ref_code = ref_param.code

    def reverse(item: Indexed, ctx: _Context) -> bool:
        if ctx.referrers is None:
            raise ValueError("This search uses _has (search.html#has), which matching one resource in memory "
                             "cannot answer alone: pass referrers(type, param, target type, target id).")
        if item.type is None or item.id is None:
            return False
        for found in ctx.referrers(other, ref_code, item.type, item.id):
            referrer = Indexed(found, ctx.registry)
            rows = referrer.values("reference", ref_code)
            points_here = any(row[0] == item.type and row[1] == item.id for row in rows)
            if referrer.type == other and points_here and inner_pred(referrer, ctx):
                return True
        return False

    return reverse


def _list_pred(clause: Clause) -> Pred:
    """search.html#list: the resource is an item of one of the named Lists (fetched with `resolve`)."""
    list_ids = tuple(str(v) for v in clause.values)

    def listed(item: Indexed, ctx: _Context) -> bool:
        for list_id in list_ids:
            found = ctx.target("List", list_id)
            if found is not None and found.type == "List" and any(
                    row[0] == item.type and row[1] == item.id for row in found.values("reference", "item")):
                return True
        return False

    return listed


def _fulltext_pred(clause: Clause) -> Pred:
    """search.html#content: every word of some value occurs (case and accents ignored); no words: no filter."""
    code = clause.param.code
    wanted = [frozenset(ws) for v in clause.values if (ws := _WORD.findall(normalize(str(v).replace('"', " "))))]
    if not wanted:
        return lambda item, ctx: True
    return lambda item, ctx: any(words <= item.words(code) for words in wanted)


def _clause_pred(clause: Clause) -> Pred:
    """One clause (values ORed) as a predicate on a resource's rows, which are already those of its type."""
    if clause.param.code == "_list":
        return _list_pred(clause)
    if clause.param.code in _FULLTEXT:
        return _fulltext_pred(clause)
    if clause.chain is not None:
        return _chain_pred(clause)
    if clause.has is not None:
        return _has_pred(clause)
    if clause.param.code in _RESOURCE_COLUMNS:
        return _resource_column_pred(clause)
    return _rows_pred(clause)


def _compartment_pred(compartment: tuple[str, str, tuple[str, ...]]) -> Pred:
    """search.html#compartment: one of the compartment's reference parameters points at its owner."""
    ctype, cid, codes = compartment

    def in_compartment(item: Indexed, ctx: _Context) -> bool:
        return any(row[0] == ctype and row[1] == cid for c in codes for row in item.values("reference", c))

    return in_compartment


def _uses(clauses: Iterable[Clause], attr: str) -> bool:
    """Whether any clause, at any depth, needs other resources: `chain` (chaining and `_list` fetch them
    by id) or `has` (reverse chaining needs the resources referring to this one)."""
    for clause in clauses:
        if getattr(clause, attr) is not None or (attr == "chain" and clause.param.code == "_list"):
            return True
        nested = clause.chain[1] if clause.chain else clause.has[2] if clause.has else None
        if nested is not None and _uses((nested,), attr):
            return True
    return False


# --------------------------------------------------------------------------------------------- matchers


@dataclass(frozen=True, slots=True)
class _Compiled:
    resource_type: str | None
    preds: tuple[Pred, ...]
    needs_resolve: bool
    needs_referrers: bool


@lru_cache(maxsize=4096)
def _compile(resource_type: str | None, clauses: tuple[Clause, ...],
             compartment: tuple[str, str, tuple[str, ...]] | None) -> _Compiled:
    preds = [_clause_pred(c) for c in clauses]
    if compartment is not None:
        preds.insert(0, _compartment_pred(compartment))
    return _Compiled(resource_type, tuple(preds), _uses(clauses, "chain"), _uses(clauses, "has"))


class Matcher:
    """A compiled query: `matcher(resource)` says whether the resource is among the query's results.

    Only the filter matters (type, compartment, clauses); paging, sorting, `_include` and `_summary` do not
    change *whether* a resource matches. The resource is taken to be a current (not deleted) version.
    """

    __slots__ = ("_compiled", "_contained", "_contained_type", "_referrers", "_registry", "_resolve")

    def __init__(self, compiled: _Compiled, resolve: Resolve | None, referrers: Referrers | None,
                 registry: Registry | None, contained: str = "false", contained_type: str = "container") -> None:
        self._compiled, self._resolve, self._referrers, self._registry = compiled, resolve, referrers, registry
        self._contained, self._contained_type = contained, contained_type

    def _holds(self, item: Indexed, ctx: _Context) -> bool:
        wanted = self._compiled.resource_type
        if wanted is not None and item.type != wanted:
            return False
        return all(pred(item, ctx) for pred in self._compiled.preds)

    def results(self, resource: dict[str, Any] | Indexed) -> list[Indexed]:
        """What a search returns for this top-level resource (search.html#contained): the resource itself
        when it matches (or, under `_contained=true|both` with the default `_containedType=container`, when
        something it contains matches), or with `_containedType=contained` the matching contained resources
        (and, under `both`, the resource itself when it matches)."""
        item = resource if isinstance(resource, Indexed) else Indexed(resource, self._registry)
        ctx = _Context(self._resolve, self._referrers, self._registry, {})
        mode = self._contained
        if mode == "false":
            return [item] if self._holds(item, ctx) else []
        inner = [c for c in item.contained() if self._holds(c, ctx)]
        if self._contained_type == "contained":
            return ([item] if mode == "both" and self._holds(item, ctx) else []) + inner
        return [item] if inner or (mode == "both" and self._holds(item, ctx)) else []

    def __call__(self, resource: dict[str, Any] | Indexed) -> bool:
        return bool(self.results(resource))


def compile_matcher(query: SearchQuery, *, resolve: Resolve | None = None, referrers: Referrers | None = None,
                    registry: Registry | None = None) -> Matcher:
    """Compile `query` once into a reusable predicate (the compiled form is cached per query content).

    Raises ValueError when the query chains (search.html#chaining) without `resolve`, or uses `_has`
    (search.html#has) without `referrers`; FhirError for what the store cannot search either.
    """
    compiled = _compile(query.type, tuple(query.clauses), query.compartment)
    if compiled.needs_resolve and resolve is None:
        raise ValueError(_NEEDS_RESOLVE)
    if compiled.needs_referrers and referrers is None:
        raise ValueError("This search uses _has (search.html#has), which matching one resource in memory cannot "
                         "answer alone: pass referrers(type, param, target type, target id).")
    return Matcher(compiled, resolve, referrers, registry, query.contained, query.contained_type)


def match(query: SearchQuery, resource: dict[str, Any] | Indexed, *, resolve: Resolve | None = None,
          referrers: Referrers | None = None, registry: Registry | None = None) -> bool:
    """Whether `resource` satisfies `query` (its type, compartment and every clause), as a search would say.

    `resolve(type, id)` fetches referenced resources for chained parameters; `referrers(...)` gives the
    resources referring to this one for `_has`. Both are needed only by queries that use them.
    """
    return compile_matcher(query, resolve=resolve, referrers=referrers, registry=registry)(resource)
