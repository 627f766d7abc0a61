"""Compile a `SearchQuery` into ONE SQL query over the resource and index tables.

Each clause becomes a semi-join (`r.rid IN (SELECT rid FROM idx_x WHERE p = ? AND ...)`); values of one
clause are ORed inside it, clauses are ANDed. Prefix semantics follow https://hl7.org/fhir/R4/search.html
(date: "the range of the search value fully contains the range of the target value" for `eq`, and so on),
applied to the inclusive [lo, hi] ranges the extractors store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from caregate.errors import FhirError
from caregate.search import ucum
from caregate.search.extract import CANONICAL
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
from caregate.storage.sql.confine import Reach, reach_of, reach_sql
from caregate.storage.sql.dialect import FTS_MARKER, NO_INDEX
from caregate.storage.sql.keys import param_key

_TABLE = {
    "string": "idx_string",
    "token": "idx_token",
    "reference": "idx_ref",
    "date": "idx_date",
    "number": "idx_number",
    "quantity": "idx_quantity",
    "uri": "idx_uri",
    "composite": "idx_composite",
}
_TOP = "\U0010ffff"
_WORD_SPLIT = re.compile(r"[\W_]+")
_DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    args: tuple


def _range_sql(prefix: str, lo_col: str, hi_col: str, qlo: float, qhi: float, args: list) -> str:
    """Prefix comparison of a stored [lo, hi] range against the search value's [qlo, qhi]."""
    contained = f"({lo_col} >= ? AND {hi_col} <= ?)"
    if prefix == "eq":
        args += [qlo, qhi]
        return contained
    if prefix == "ne":
        args += [qlo, qhi]
        return f"NOT {contained}"
    if prefix == "gt":
        args.append(qhi)
        return f"{hi_col} > ?"
    if prefix == "lt":
        args.append(qlo)
        return f"{lo_col} < ?"
    if prefix == "ge":
        args += [qhi, qlo, qhi]
        return f"({hi_col} > ? OR {contained})"
    if prefix == "le":
        args += [qlo, qlo, qhi]
        return f"({lo_col} < ? OR {contained})"
    if prefix == "sa":
        args.append(qhi)
        return f"{lo_col} > ?"
    if prefix == "eb":
        args.append(qlo)
        return f"{hi_col} < ?"
    # ap: overlap after widening the search range by 10% of its own width on each side.
    width = max((qhi - qlo) * 0.1, 0)
    args += [qhi + width, qlo - width]
    return f"({lo_col} <= ? AND {hi_col} >= ?)"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _token_cols(value: object, system_col: str, code_col: str, args: list) -> list[str]:
    parts = []
    if isinstance(value, TokenValue):
        if value.code is not None:
            parts.append(f"{code_col} = ?")
            args.append(value.code)
        if value.no_system:
            parts.append(f"{system_col} IS NULL")
        elif value.system is not None:
            parts.append(f"{system_col} = ?")
            args.append(value.system)
    elif isinstance(value, ReferenceValue):
        parts.append(f"{code_col} = ?")
        args.append(value.id)
        if value.type:
            parts.append(f"{system_col} = ?")
            args.append(value.type)
    return parts


def _composite_sql(value: CompositeValue, args: list) -> str:
    """Both components on one row, i.e. on the same element (search.html#composite)."""
    first, second = value.parts
    parts = _token_cols(first, "a1", "a2", args)
    kind = value.kinds[1]
    if kind == "token":
        parts += _token_cols(second, "b1", "b2", args)
    elif kind == "quantity":
        assert isinstance(second, QuantityValue)
        parts.append(_range_sql(second.prefix, "num", "num", second.low, second.high, args))
        if second.system:
            parts.append("b1 = ?")
            args.append(second.system)
        if second.code:
            parts.append("b2 = ?")
            args.append(second.code)
    elif kind in ("number", "date"):
        assert isinstance(second, RangeValue)
        cols = ("num", "num") if kind == "number" else ("lo", "hi")
        parts.append(_range_sql(second.prefix, cols[0], cols[1], second.low, second.high, args))
    else:
        from caregate.search.extract import normalize

        norm = normalize(str(second))
        parts.append("(b2 >= ? AND b2 < ?)")
        args += [norm, norm + _TOP]
    return "(" + " AND ".join(parts or ["1 = 1"]) + ")"


def _canonical(value: QuantityValue) -> tuple[str, float] | None:
    """Searches in UCUM units that convert are compared in canonical units (search.html#quantity)."""
    if value.code and value.system in (None, ucum.SYSTEM):
        return ucum.canonical(value.code) if value.system == ucum.SYSTEM else None
    return None


def _code_set_sql(value: CodeSetValue, args: list) -> str:
    """`:in` / `:not-in`: per code system one `code IN (...)` over the expansion's codes."""
    by_system: dict[str, list[str]] = {}
    for system, code in sorted(value.codes):
        by_system.setdefault(system, []).append(code)
    if not by_system:
        return "1 = 0"
    ors = [f"(system IS NULL AND code IN ({', '.join('?' * len(value.bare))}))"]
    args += sorted(value.bare)
    for system, codes in by_system.items():
        ors.append(f"(system = ? AND code IN ({', '.join('?' * len(codes))}))")
        args += [system, *codes]
    return ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")"


def _value_sql(clause: Clause, value: object, args: list, p: str = "") -> str:
    kind = clause.param.type
    mod = clause.modifier
    if kind == "string":
        from caregate.search.extract import normalize

        text = str(value)
        if mod == "exact":
            args.append(text)
            return "exact = ?"
        norm = normalize(text)
        if mod == "contains":
            args.append(f"%{_like_escape(norm)}%")
            return "norm LIKE ? ESCAPE '\\'"
        args += [norm, norm + _TOP]
        return "(norm >= ? AND norm < ?)"
    if kind == "token" or (kind == "reference" and mod == "identifier"):
        if mod == "text":
            from caregate.search.extract import normalize

            args.append(f"%{_like_escape(normalize(str(value)))}%")
            return "text LIKE ? ESCAPE '\\'"
        if isinstance(value, CodeSetValue):
            return _code_set_sql(value, args)
        assert isinstance(value, TokenValue)
        parts = []
        if value.code is not None:
            parts.append("code = ?")
            args.append(value.code)
        if value.no_system:
            parts.append("system IS NULL")
        elif value.system is not None:
            parts.append("system = ?")
            args.append(value.system)
        return "(" + " AND ".join(parts or ["1 = 1"]) + ")"
    if kind == "reference":
        assert isinstance(value, ReferenceValue)
        if value.url is not None:
            args.append(value.url)
            if value.version:
                args.append(value.version)
                return "(url = ? AND tversion = ?)"
            return "url = ?"
        parts = ["tid = ?"]
        args.append(value.id)
        rtype = value.type or (mod if mod and mod[:1].isupper() else None)
        if rtype:
            parts.append("ttype = ?")
            args.append(rtype)
        if value.version:
            parts.append("tversion = ?")
            args.append(value.version)
        return "(" + " AND ".join(parts) + ")"
    if kind == "composite":
        assert isinstance(value, CompositeValue)
        return _composite_sql(value, args)
    if kind == "uri":
        text = str(value)
        if mod == "below":
            args += [text, text + _TOP]
            return "(uri >= ? AND uri < ?)"
        if mod == "above":
            prefixes = [text[:i] for i in range(len(text), 0, -1) if i == len(text) or text[i] == "/"]
            args += prefixes
            return "uri IN (" + ", ".join("?" * len(prefixes)) + ")"
        args.append(text)
        return "uri = ?"
    if kind in ("date", "number"):
        assert isinstance(value, RangeValue)
        return _range_sql(value.prefix, "lo", "hi", value.low, value.high, args)
    if kind == "quantity":
        assert isinstance(value, QuantityValue)
        converted = _canonical(value)
        if converted is not None:
            unit, factor = converted
            args.append(f"{p}{CANONICAL}")
            cond = _range_sql(value.prefix, "value", "value", value.low * factor, value.high * factor, args)
            args.append(unit)
            return f"(p = ? AND {cond} AND code = ?)"
        args.append(p)
        parts = [_range_sql(value.prefix, "value", "value", value.low, value.high, args)]
        if value.system:
            parts.append("system = ?")
            args.append(value.system)
        if value.code:
            parts.append("(code = ? OR unit = ?)")
            args += [value.code, value.code]
        return "(p = ? AND " + " AND ".join(parts) + ")"
    raise FhirError("not-allowed", f"Searching on {kind} parameter '{clause.name}' is not supported yet.",
                    (clause.name,))


def _resource_column_clause(clause: Clause, args: list) -> str:
    """`_id` and `_lastUpdated` live on the resource row itself; `_id` takes `:not`, nothing else."""
    if clause.modifier not in (None, "not"):
        raise FhirError("not-allowed", f"The ':{clause.modifier}' modifier is not supported on "
                                       f"'{clause.param.code}'.", (clause.name,))
    ors = []
    if clause.param.code == "_id":
        for value in clause.values:
            assert isinstance(value, TokenValue)
            ors.append("r.id = ?")
            args.append(value.code)
    else:
        for value in clause.values:
            assert isinstance(value, RangeValue)
            ors.append(_range_sql(value.prefix, "r.lu", "r.lu", value.low, value.high, args))
    cond = "(" + " OR ".join(ors) + ")"
    return f"NOT {cond}" if clause.modifier == "not" else cond


def _type_col(inner: Clause) -> str:
    """`r.type` for the resources a chain or `_has` reaches, kept off SQLite's type index when the inner
    clause can drive the lookup (see `where_sql`)."""
    return f"{NO_INDEX}r.type" if _drive_rank(inner) is not None else "r.type"


def _chain_sql(resource_type: str, clause: Clause, args: list, confine: Reach | None = None) -> str:
    """Chaining (search.html#chaining) as nested semi-joins: references whose target satisfies the inner
    clause. Each target type is matched with its own ids, so `subject.name=x` never mistakes Location/1 for
    Patient/1. The inner clause is written against the target's own row (aliases shadow per depth).

    "A chained condition will be evaluated inside contained resources" (search.html#contained): the second
    branch of the union finds containers whose reference `#id` names a contained resource that satisfies it.
    A union rather than OR keeps each branch a semi-join the planners can drive from an index."""
    assert clause.chain is not None
    targets, inner = clause.chain
    p = param_key(resource_type, clause.param.code)
    args.append(p)
    ors = []
    for t in targets:
        args += [t, t]
        cond = clause_sql(t, inner, args, confine)
        if confine is not None:
            cond += " AND " + reach_sql(t, confine, args)
        ors.append(f"(x.ttype = ? AND x.tid IN (SELECT r.id FROM resources r WHERE {_type_col(inner)} = ? "
                   "AND r.deleted = 0 "
                   f"AND {cond}))")
    either = ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")"
    local = []
    for t in targets:
        args.append(t)
        local.append(f"(r.type = ? AND {clause_sql(t, inner, args, confine)})")
    args.append(p)
    inside = local[0] if len(local) == 1 else "(" + " OR ".join(local) + ")"
    return (f"r.rid IN (SELECT x.rid FROM idx_ref x WHERE x.p = ? AND {either} UNION ALL SELECT r.container FROM "
            f"contained r WHERE {inside} AND EXISTS (SELECT 1 FROM idx_ref x WHERE x.rid = r.container AND x.p = ? "
            "AND x.url = '#' || r.id))")


def _has_sql(resource_type: str, clause: Clause, args: list, confine: Reach | None = None) -> str:
    """Reverse chaining (search.html#has): this resource is referred to, through the named reference
    parameter, by a resource of the named type that satisfies the inner clause (which may nest `_has`)."""
    assert clause.has is not None
    other, ref_param, inner = clause.has
    args += [param_key(other, ref_param.code), resource_type, other]
    inner_args: list = []
    cond = clause_sql(other, inner, inner_args, confine)
    if confine is not None:
        cond += " AND " + reach_sql(other, confine, inner_args)
    args += inner_args
    # the referring resources are found first; their reference rows then through the `rid` index
    return (f"r.id IN (SELECT x.tid FROM idx_ref x WHERE {NO_INDEX}x.p = ? AND x.ttype = ? AND x.rid IN "
            f"(SELECT r.rid FROM resources r WHERE {_type_col(inner)} = ? AND r.deleted = 0 AND {cond}))")


def _fulltext_sql(clause: Clause, args: list) -> str:
    """`_text` / `_content` (search.html#content): every word must occur (accents and case ignored)."""
    from caregate.search.extract import normalize

    kinds = "k = 0" if clause.param.code == "_text" else "k IN (0, 1)"
    ors = []
    for value in clause.values:
        words = [w for w in _WORD_SPLIT.split(normalize(str(value))) if w]
        if not words:
            continue
        args.append(" ".join(f'"{w}"' for w in words))
        ors.append(f"r.rid IN (SELECT rid FROM idx_text WHERE {FTS_MARKER} AND {kinds})")
    if not ors:
        return "1 = 1"
    return ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")"


def _list_sql(clause: Clause, args: list, confine: Reach | None = None) -> str:
    """`_list=id` (search.html#list): the resources a List's entries refer to."""
    marks = ", ".join("?" * len(clause.values))
    args += list(clause.values)
    own = "" if confine is None else " AND " + reach_sql("List", confine, args, "l")
    return ("EXISTS (SELECT 1 FROM idx_ref x JOIN resources l ON l.rid = x.rid WHERE l.type = 'List' "
            f"AND l.id IN ({marks}) AND l.deleted = 0{own} AND x.p = 'List.item' AND x.ttype = r.type "
            "AND x.tid = r.id)")


def _semi(table: str, cond: str, drive: bool, negate: bool = False) -> str:
    """`r` has an index row of `table` satisfying `cond` (unqualified columns of that table).

    The clause a query is driven from is a semi-join on the surrogate key (`r.rid IN (...)`), which both
    engines start from; every other one is a correlated EXISTS probing the table's `rid` index for each
    candidate. Written as IN too, SQLite (which keeps no statistics here) would first build the whole list of
    rows matching an unselective condition, e.g. every Observation date after 2009, to test a dozen
    candidates against it; PostgreSQL plans both forms as the same semi-join."""
    if drive and not negate:
        return f"r.rid IN (SELECT rid FROM {table} WHERE {cond})"
    # the probe goes through the `rid` index: SQLite would rather take the (p, value) one, with more equal
    # columns, and read every row of that value for each candidate
    cond = _KEY_TERM.sub(f"{NO_INDEX}p = ?", cond)
    return f"{'NOT ' if negate else ''}EXISTS (SELECT 1 FROM {table} s WHERE s.rid = r.rid AND {cond})"


_KEY_TERM = re.compile(r"(?<![\w.])p = \?")


_DRIVE_RANK = {"reference": 1, "token": 2, "string": 3, "uri": 3, "composite": 3, "quantity": 4, "number": 4,
               "date": 4}


def _drive_rank(clause: Clause) -> int | None:
    """How good a start a clause is likely to be, lower is better; None when it cannot drive the query from
    the surrogate key (a resource column, a negation, `:missing`, a substring scan, `_has` on ids, `_list`).
    A guess by parameter type, since neither engine's statistics reach inside one index table's keys."""
    code = clause.param.code
    if code in ("_id", "_lastUpdated", "_list") or clause.has is not None or clause.missing is not None:
        return None
    if clause.modifier in ("not", "not-in", "text", "contains"):
        return None
    if code in ("_text", "_content"):
        return 5
    if clause.chain is not None:
        return 3
    return _DRIVE_RANK.get(clause.param.type)


def clause_sql(resource_type: str, clause: Clause, args: list, confine: Reach | None = None,
               drive: bool = True) -> str:
    """One clause as a condition on `r`; `confine` (the query's reach) keeps chained and `_has` targets inside
    that patient's compartment too; `drive` says whether the query starts from it (see `_semi`)."""
    if clause.param.code == "_list":
        return _list_sql(clause, args, confine)
    if clause.param.code in ("_text", "_content"):
        return _fulltext_sql(clause, args)
    if clause.chain is not None:
        return _chain_sql(resource_type, clause, args, confine)
    if clause.has is not None:
        return _has_sql(resource_type, clause, args, confine)
    code = clause.param.code
    if code in ("_id", "_lastUpdated"):
        if clause.missing is not None:
            return "1 = 0" if clause.missing else "1 = 1"
        return _resource_column_clause(clause, args)
    table = _TABLE.get(clause.param.type)
    if table is None:
        raise FhirError("not-allowed", f"Searching on '{clause.name}' is not supported yet.", (clause.name,))
    p = param_key(resource_type, code)
    if clause.missing is not None:
        args.append(p)
        return _semi(table, "p = ?", False, negate=clause.missing)
    if clause.param.type == "quantity":
        # each value names its own index key (canonical units or as written)
        ors = [_value_sql(clause, v, args, p) for v in clause.values]
        cond = ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")"
        return _semi(table, cond, drive)
    if clause.modifier in ("of-type", "identifier"):
        p += f":{clause.modifier}"
        table = "idx_token"
    args.append(p)
    ors = [_value_sql(clause, v, args) for v in clause.values]
    cond = ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")"
    return _semi(table, f"p = ? AND {cond}", drive, negate=clause.modifier in ("not", "not-in"))


def where_sql(query: SearchQuery, types: list[str] | None = None, *, drive: bool = True) -> tuple[str, list]:
    """The WHERE clause (without cursor) shared by the page query and the count query.

    One clause drives (see `_semi`): the compartment when there is one, else the clause `_drive_rank` likes
    best, unless `_id` names the resources outright. When a clause drives, SQLite is kept off the type index
    (`NO_INDEX`), which without statistics it would otherwise prefer, scanning every resource of the type."""
    args: list = []
    parts = ["r.deleted = 0"]
    ranks = [_drive_rank(c) for c in query.clauses]
    by_id = any(c.param.code == "_id" and c.modifier is None and c.missing is None for c in query.clauses)
    candidates = [(rank, i) for i, rank in enumerate(ranks) if rank is not None]
    driver = None if by_id or query.compartment is not None or not candidates else min(candidates)[1]
    driven = not by_id and (query.compartment is not None or driver is not None or not drive)
    if not drive:  # the caller starts from another table (see `compile_latest_first`)
        driver = None
    if query.type is not None:
        parts.insert(0, f"{NO_INDEX if driven else ''}r.type = ?")
        args.append(query.type)
    elif types:
        parts.insert(0, "r.type IN (" + ", ".join("?" * len(types)) + ")")
        args += types
    if query.compartment is not None:
        ctype, cid, codes = query.compartment
        marks = ", ".join("?" * len(codes))
        parts.append(f"r.rid IN (SELECT rid FROM idx_ref WHERE p IN ({marks}) AND tid = ? AND ttype = ?)")
        args += [param_key(query.type or "Resource", c) for c in codes] + [cid, ctype]
    reach = reach_of(query.confine, query.refused, query.viewer, query.hidden)
    if reach is not None:
        parts.append(reach_sql(query.type, reach, args))
    for i, clause in enumerate(query.clauses):
        parts.append(clause_sql(query.type or "Resource", clause, args, reach, drive=i == driver))
    return " AND ".join(parts), args


_BOTH = ("(SELECT rid, type, id, version, lu, last_updated, deleted, t, json FROM resources UNION ALL "
         "SELECT rid, type, id, version, lu, last_updated, deleted, t, json FROM contained) r")


def source_sql(query: SearchQuery, types: list[str] | None = None) -> tuple[str, str, list]:
    """FROM and WHERE of a search, by `_contained` and `_containedType` (search.html#contained).

    By default only resources that are not contained are searched. `_contained=true` searches contained
    resources alone and `both` all of them; each is returned as itself (`_containedType=contained`) or as its
    container (`container`, the default). The clauses are the same text whichever table `r` names, since
    `contained` mirrors the columns of `resources`."""
    where, args = where_sql(query, types)
    mode, as_type = query.contained, query.contained_type
    if mode == "false":
        return "resources r", where, args
    if as_type == "contained":
        return ("contained r" if mode == "true" else _BOTH), where, args
    inside = f"r.rid IN (SELECT r.container FROM contained r WHERE {where})"
    outer, outer_args = "r.deleted = 0", []
    reach = reach_of(query.confine, query.refused, query.viewer, query.hidden)
    if reach is not None:  # the container is returned, so it must be within reach too
        outer += " AND " + reach_sql(None, reach, outer_args)
    if mode == "true":
        return "resources r", f"{outer} AND {inside}", outer_args + args
    return "resources r", f"{outer} AND (({where}) OR {inside})", outer_args + args + args


_SORT_COLUMN = {"string": "norm", "token": "code", "reference": "tid", "uri": "uri", "number": "lo",
                "quantity": "value"}


def _sort_sql(query: SearchQuery, args: list) -> str:
    """ORDER BY keys (search.html#sort): a resource sorts by its lowest value ascending and its highest value
    descending; resources without a value come last either way; the surrogate key keeps the order stable."""
    keys = []
    for key in query.sort:
        code, kind = key.param.code, key.param.type
        direction = "DESC" if key.descending else "ASC"
        if code == "_id":
            keys.append(f"r.id {direction}")
            continue
        if code == "_lastUpdated":
            keys.append(f"r.lu {direction}")
            continue
        agg = "MAX" if key.descending else "MIN"
        column = ("hi" if key.descending else "lo") if kind == "date" else _SORT_COLUMN.get(kind)
        table = _TABLE.get(kind)
        if column is None or table is None:
            raise FhirError("incorrect", f"_sort: '{code}' cannot be sorted by.", ("_sort",))
        expr = f"(SELECT {agg}({column}) FROM {table} s WHERE s.rid = r.rid AND s.p = ?)"
        keys.append(f"CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END, {expr} {direction}")
        args += [param_key(query.type or "Resource", code)] * 2
    keys.append("r.rid ASC")
    return ", ".join(keys)


def compile_sorted_page(query: SearchQuery, *, limit: int, offset: int, types: list[str] | None = None,
                        json_col: str = "r.json") -> Compiled:
    """A `_sort`ed page: ordered by the sort keys then the surrogate key, positioned by offset."""
    source, where, args = source_sql(query, types)
    sort_args: list = []
    order = _sort_sql(query, sort_args)
    sql = (f"SELECT r.rid, r.type, r.id, r.version, r.last_updated, {json_col} FROM {source} "
           f"WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?")
    return Compiled(sql, (*args, *sort_args, limit, offset))


def _selective(clause: Clause) -> bool:
    """Likely to narrow a search to few resources: `_id`, `_has`, or a reference, token or string clause."""
    if clause.has is not None or (clause.param.code == "_id" and clause.modifier is None):
        return True
    rank = _drive_rank(clause)
    return rank is not None and rank <= 3


_LATEST = ("NOT EXISTS (SELECT 1 FROM idx_date d2 WHERE d2.rid = d.rid AND d2.p = d.p AND (d2.hi > d.hi OR "
           "(d2.hi = d.hi AND d2.lo < d.lo)))")


@dataclass(frozen=True, slots=True)
class LatestFirst:
    """`_sort=-date` without a selective clause, in index order: `dated` is the page of resources with a value,
    `undated(limit, offset)` the ones without (which sort last), `count_dated` how many have one."""

    dated: Compiled
    undated_sql: str
    undated_args: tuple
    count_dated: Compiled

    def undated(self, limit: int, offset: int) -> Compiled:
        return Compiled(self.undated_sql, (*self.undated_args, limit, offset))


def compile_latest_first(query: SearchQuery, *, limit: int, offset: int, types: list[str] | None = None,
                         json_col: str = "r.json") -> LatestFirst | None:
    """A descending sort on one date parameter (search.html#sort), the commonest sort in clinical use ("the
    latest first"), read in the order of the `idx_date_latest` index instead of computing every resource's key
    and sorting them all: each resource is met at its latest row (the anti-join keeps only that one), so a
    page costs what it skips and returns, whatever the number of matches. Only when no clause is likely to be
    selective (see `_drive_rank`): a search for one patient's observations is better sorted after filtering.
    None when the query does not qualify; the order is the same as `compile_sorted_page`'s."""
    if len(query.sort) != 1 or query.contained != "false" or query.compartment is not None or query.type is None:
        return None
    key = query.sort[0]
    if key.param.type != "date" or not key.descending or key.param.code == "_lastUpdated":
        return None
    if any(_selective(c) for c in query.clauses):
        return None
    where, args = where_sql(query, types, drive=False)
    p = param_key(query.type, key.param.code)
    select = f"SELECT r.rid, r.type, r.id, r.version, r.last_updated, {json_col}"
    dated = Compiled(f"{select} FROM (SELECT d.rid, d.hi FROM idx_date d JOIN resources r ON r.rid = d.rid "
                     f"WHERE d.p = ? AND {_LATEST} AND {where} ORDER BY d.hi DESC, d.rid LIMIT ? OFFSET ?) page "
                     "JOIN resources r ON r.rid = page.rid ORDER BY page.hi DESC, page.rid", (p, *args, limit, offset))
    undated = (f"{select} FROM resources r WHERE {where} AND NOT EXISTS (SELECT 1 FROM idx_date s WHERE "
               "s.rid = r.rid AND s.p = ?) ORDER BY r.rid LIMIT ? OFFSET ?")
    count = Compiled(f"SELECT COUNT(*) FROM idx_date d JOIN resources r ON r.rid = d.rid WHERE d.p = ? AND {_LATEST} "
                     f"AND {where}", (p, *args))
    return LatestFirst(dated, undated, (*args, p), count)


def compile_includes(rids: list[int], ids: list[tuple[str, str]], includes: list, revincludes: list,
                     limit: int, json_col: str = "r.json", confine: Reach | None = None) -> Compiled | None:
    """One query for one level of `_include` and `_revinclude` (search.html#include) around the given
    resources: forward references they hold, and resources whose references point at them."""
    parts: list[str] = []
    args: list = []
    select = f"SELECT r.rid, r.type, r.id, r.version, r.last_updated, {json_col} FROM resources r"
    if includes and rids:
        marks = ", ".join("?" * len(rids))
        for inc in includes:
            cond = [f"x.rid IN ({marks})"]
            a: list = list(rids)
            if inc.source == "*":
                pass
            elif inc.param is None:
                cond.append("x.p >= ? AND x.p < ?")
                a += [f"{inc.source}.", f"{inc.source}/"]
            else:
                cond.append("x.p = ?")
                a.append(param_key(inc.source, inc.param))
            if inc.target:
                cond.append("x.ttype = ?")
                a.append(inc.target)
            if confine is not None:
                cond.append(reach_sql(inc.target, confine, a))
            parts.append(f"{select} JOIN idx_ref x ON r.type = x.ttype AND r.id = x.tid "
                         f"WHERE r.deleted = 0 AND {' AND '.join(cond)}")
            args += a
    if revincludes and ids:
        for inc in revincludes:
            targets = [(t, i) for t, i in ids if inc.target is None or inc.target == t]
            if not targets:
                continue
            pairs = " OR ".join("(x.ttype = ? AND x.tid = ?)" for _ in targets)
            a = [v for pair in targets for v in pair]
            cond = [f"({pairs})"]
            if inc.source != "*":
                cond.append("r.type = ?")
                a.append(inc.source)
            if inc.param is not None:
                cond.append("x.p = ?")
                a.append(param_key(inc.source, inc.param))
            if confine is not None:
                cond.append(reach_sql(None if inc.source == "*" else inc.source, confine, a))
            parts.append(f"{select} JOIN idx_ref x ON x.rid = r.rid WHERE r.deleted = 0 AND {' AND '.join(cond)}")
            args += a
    if not parts:
        return None
    union = " UNION ".join(parts)
    return Compiled(f"SELECT * FROM ({union}) inc ORDER BY rid LIMIT ?", (*args, limit))


def compile_page(
    query: SearchQuery, *, limit: int, after: int | None, before: int | None,
    types: list[str] | None = None, json_col: str = "r.json",
) -> Compiled:
    """One query for one page: keyset pagination on the surrogate key keeps pages stable under writes."""
    source, where, args = source_sql(query, types)
    order = "ASC"
    if after is not None:
        where += " AND r.rid > ?"
        args.append(after)
    elif before is not None:
        where += " AND r.rid < ?"
        args.append(before)
        order = "DESC"
    args.append(limit)
    if source in ("resources r", "contained r"):
        # The page's keys first, the stored JSON only for them: PostgreSQL would otherwise turn the JSON of
        # every candidate into text before keeping the first few (it evaluates the select list below the sort).
        table = source.split()[0]
        sql = (f"SELECT r.rid, r.type, r.id, r.version, r.last_updated, {json_col} FROM (SELECT rid FROM {source} "
               f"WHERE {where} ORDER BY r.rid {order} LIMIT ?) page JOIN {table} r ON r.rid = page.rid "
               f"ORDER BY r.rid {order}")
        return Compiled(sql, tuple(args))
    sql = (f"SELECT r.rid, r.type, r.id, r.version, r.last_updated, {json_col} FROM {source} "
           f"WHERE {where} ORDER BY r.rid {order} LIMIT ?")
    return Compiled(sql, tuple(args))


def compile_count(query: SearchQuery, types: list[str] | None = None) -> Compiled:
    source, where, args = source_sql(query, types)
    return Compiled(f"SELECT COUNT(*) FROM {source} WHERE {where}", tuple(args))
