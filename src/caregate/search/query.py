"""Search requests as plain data: what `GET [base]/[type]?...` asks for, before any SQL.

The web layer turns the query string into a list of (name, value) pairs; `parse` turns those into a
`SearchQuery` of `Clause`s (AND) each holding values (OR), as https://hl7.org/fhir/R4/search.html describes.
Storage compiles a `SearchQuery` to SQL; `search.match` evaluates it on one resource in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from caregate.errors import FhirError, Issue, incorrect
from caregate.fhir.terminology import NotExpandable, UnknownValueSet, code_system, expand_url
from caregate.search.dates import parse_range
from caregate.search.registry import Registry, SearchParam
from caregate.search.viewer import Viewer

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_PREFIXED_TYPES = frozenset({"date", "number", "quantity"})
# Result parameters (https://hl7.org/fhir/R4/search.html#Summary): not filters.
RESULT_PARAMS = frozenset(
    {"_count", "_sort", "_include", "_revinclude", "_summary", "_total", "_elements", "_contained",
     "_containedType", "_format", "_pretty", "_cursor"}
)
SUMMARY_MODES = frozenset({"true", "false", "text", "data", "count"})
TOTAL_MODES = frozenset({"none", "estimate", "accurate"})
CONTAINED_MODES = frozenset({"false", "true", "both"})  # search.html#contained
CONTAINED_TYPES = frozenset({"container", "contained"})
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None  # None: any system
    code: str | None  # None: any code (`system|`)
    no_system: bool = False  # `|code`: the code must have no system


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    type: str | None
    id: str | None
    version: str | None = None
    url: str | None = None  # absolute reference or canonical that is not on this server


@dataclass(frozen=True, slots=True)
class RangeValue:
    """A date or number search value: a prefix and the implicit range of the value's precision."""

    prefix: str
    low: float | int
    high: float | int


@dataclass(frozen=True, slots=True)
class QuantityValue:
    prefix: str
    low: float
    high: float
    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class CompositeValue:
    """`code$value` (search.html#composite): one value per component, in order."""

    parts: tuple[object, ...]
    kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CodeSetValue:
    """`:in` / `:not-in` (search.html#modifiers): the (system, code) pairs of the expanded ValueSet `url`, and
    its codes alone for elements of type `code`, whose system is implied by their binding (no system row)."""

    url: str
    codes: frozenset[tuple[str, str]]
    bare: frozenset[str]


Value = str | TokenValue | ReferenceValue | RangeValue | QuantityValue | CompositeValue | CodeSetValue


@dataclass(frozen=True, slots=True)
class Clause:
    """One search parameter occurrence: its values are ORed; clauses of a query are ANDed.

    A chained parameter (`subject:Patient.name=x`, search.html#chaining) is a reference clause whose
    `chain` holds the clause on the referenced types; a reverse chain (`_has:Observation:patient:code=x`,
    search.html#has) has `has` set to (referring type, its reference parameter) and the clause on it.
    """

    name: str  # as written, e.g. `subject:Patient`
    param: SearchParam
    modifier: str | None
    values: tuple[Value, ...]
    missing: bool | None = None  # `:missing=true|false`
    chain: tuple[tuple[str, ...], Clause] | None = None  # (target types, clause on them)
    has: tuple[str, SearchParam, Clause] | None = None  # (referring type, its reference param, clause)


@dataclass(frozen=True, slots=True)
class Include:
    """`_include=Source:param[:Target]` or `_revinclude=...` (search.html#include); `param` None is `*`."""

    source: str
    param: str | None
    target: str | None
    iterate: bool


@dataclass(frozen=True, slots=True)
class SortKey:
    """One `_sort` key (search.html#sort): a search parameter, or `_id`/`_lastUpdated`."""

    param: SearchParam
    descending: bool


@dataclass(slots=True)
class SearchQuery:
    type: str | None
    clauses: list[Clause] = field(default_factory=list)
    count: int | None = None
    summary: str | None = None
    total: str | None = None
    cursor: str | None = None
    ignored: list[str] = field(default_factory=list)  # unknown parameters skipped under handling=lenient
    echo: list[tuple[str, str]] = field(default_factory=list)  # what the self link repeats
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    elements: list[str] = field(default_factory=list)
    compartment: tuple[str, str, tuple[str, ...]] | None = None  # (type, id, reference params) search.html#compartment
    contained: str = "false"  # `_contained` (search.html#contained): false, true (contained only) or both
    contained_type: str = "container"  # `_containedType`: return the container, or the contained resource
    confine: str | None = None  # a patient id: every resource reached must be in that patient's compartment
    refused: str | None = None  # a purpose of use: resources of patients who refused it (opt-out) are unreachable
    viewer: Viewer | None = None  # a member of staff: only patients they are related to (and may see) are reached
    hidden: tuple[tuple[str, ...], ...] = ()  # security labels whose resources are unreachable (Sight.hidden)

    @property
    def count_only(self) -> bool:
        return self.summary == "count" or self.count == 0


def _split_commas(value: str) -> list[str]:
    r"""Split OR values on commas not escaped as `\,` (search.html#escaping); other escapes stay for
    `_split_bar` and `_unescape`, so an escaped `\|` is never taken for the system|code separator."""
    parts, buf, i = [], [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            if value[i + 1] == ",":
                buf.append(",")
            else:
                buf.append(value[i : i + 2])
            i += 2
            continue
        if ch == ",":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in "$|\\":
            out.append(value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _split_bar(value: str) -> tuple[str | None, str]:
    r"""`system|code` on the first `|` not escaped as `\|`; both parts unescaped."""
    i = 0
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] == "|":
            return _unescape(value[:i]), _unescape(value[i + 1 :])
        i += 1
    return None, _unescape(value)


def _prefix(raw: str) -> tuple[str, str]:
    if len(raw) > 2 and raw[:2] in PREFIXES and not raw[:2].isdigit():
        return raw[:2], raw[2:]
    return "eq", raw


def _number_range(text: str, name: str) -> tuple[float, float]:
    """Implicit range of a number by its significant figures (search.html#number)."""
    if not _NUMBER.match(text):
        raise incorrect(f"Parameter '{name}': '{text}' is not a number.", name)
    value = float(text)
    mantissa = text.lower().split("e")[0]
    exponent = int(text.lower().split("e")[1]) if "e" in text.lower() else 0
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    half = 0.5 * 10 ** (exponent - decimals)
    return value - half, value + half


MAX_CODE_SET = 10_000  # codes one `:in` / `:below` may stand for: each becomes an SQL parameter


def _bounded(name: str, what: str, value: CodeSetValue) -> CodeSetValue:
    """The set, unless it holds more codes than one query may list (422 too-costly, never a database error)."""
    if len(value.codes) > MAX_CODE_SET:
        raise FhirError("invalid", f"'{name}': {what} stands for {len(value.codes):,} codes, more than the "
                        f"{MAX_CODE_SET:,} one search can match; use a narrower one.", (name,), code="too-costly")
    return value


def _code_set(name: str, url: str) -> CodeSetValue:
    """Expand a shipped ValueSet for `:in` / `:not-in`; one that is unknown or cannot be expanded is refused."""
    try:
        concepts = expand_url(url)
    except UnknownValueSet:
        raise incorrect(f"'{name}': the ValueSet {url} is not known to this server.", name) from None
    except NotExpandable as exc:
        raise FhirError("invalid", f"'{name}': the ValueSet {url} cannot be expanded: {exc}.", (name,),
                        code="not-supported") from None
    return _bounded(name, f"the ValueSet {url}", CodeSetValue(
        url, frozenset((system, code) for system, code, _ in concepts), frozenset(code for _, code, _ in concepts)))


def _subsumption_set(name: str, modifier: str, raw: str) -> CodeSetValue:
    """Token `:below` / `:above` (search.html#modifiers): the code with every concept below (or above) it in
    its code system's hierarchy, matched like `:in`; only hierarchies the server holds can answer."""
    system, code = _split_bar(raw)
    if not system or not code:
        raise incorrect(f"'{name}' takes [system]|[code], not '{raw}'.", name)
    cs = code_system(system)
    if cs is None or not cs.complete:
        raise FhirError("invalid", f"'{name}': the hierarchy of {system} is not known to this server.", (name,),
                        code="not-supported")
    related = cs.descendants(code) if modifier == "below" else cs.ancestors(code)
    codes = (code, *related)
    return _bounded(name, f"{system}|{code} with its {modifier} concepts",
                    CodeSetValue(f"{system}|{code}", frozenset((system, c) for c in codes), frozenset(codes)))


def parse_value(param: SearchParam, name: str, modifier: str | None, raw: str, base_url: str,
                registry: Registry | None = None, resource_type: str | None = None) -> Value:
    kind = param.type
    if kind not in ("token", "quantity", "composite"):
        raw = _unescape(raw)
    if kind == "string":
        return raw
    if kind == "token":
        if modifier == "text":
            return _unescape(raw)
        if modifier in ("in", "not-in"):
            return _code_set(name, _unescape(raw))
        if modifier in ("above", "below"):
            return _subsumption_set(name, modifier, raw)
        if modifier == "of-type":
            type_system, rest = _split_bar(raw)
            type_code, value = _split_bar(rest) if type_system is not None else (None, rest)
            if type_system is None or type_code is None or not value:
                raise incorrect(f"'{name}' takes [type system]|[type code]|[identifier value], not '{raw}'.", name)
            return TokenValue(type_system or None, f"{type_code}|{value}")
        system, code = _split_bar(raw)
        if system is None:
            return TokenValue(None, code)
        if system == "":
            return TokenValue(None, code, no_system=True)
        return TokenValue(system, code or None)
    if kind == "reference":
        if modifier == "identifier":
            system, code = _split_bar(raw)
            return TokenValue(system or None, code or None, no_system=system == "")
        return parse_reference(raw, modifier, base_url)
    if kind == "uri":
        return raw
    if kind == "date":
        prefix, text = _prefix(raw)
        try:
            low, high = parse_range(text)
        except ValueError as exc:
            raise incorrect(f"Parameter '{name}': {exc}", name) from exc
        return RangeValue(prefix, low, high)
    if kind == "number":
        prefix, text = _prefix(raw)
        low, high = _number_range(text, name)
        return RangeValue(prefix, low, high)
    if kind == "quantity":
        prefix, text = _prefix(raw)
        number, _, rest = text.partition("|")
        low, high = _number_range(number, name)
        system, _, code = rest.partition("|") if rest else ("", "", "")
        return QuantityValue(prefix, low, high, system or None, code or None)
    if kind == "composite" and registry is not None and resource_type is not None:
        return _composite_value(param, name, raw, base_url, registry, resource_type)
    raise FhirError("not-allowed", f"Searching on '{name}' ({kind} parameters) is not supported yet.", (name,))


def _dollar_split(raw: str) -> list[str]:
    parts, buf, i = [], [], 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            buf.append(raw[i : i + 2])
            i += 2
            continue
        if raw[i] == "$":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(raw[i])
        i += 1
    parts.append("".join(buf))
    return parts


def _composite_value(param: SearchParam, name: str, raw: str, base_url: str, registry: Registry,
                     resource_type: str) -> CompositeValue:
    from caregate.search.composite import supported

    if not supported(param, registry, resource_type):
        raise FhirError("not-allowed", f"The composite parameter '{name}' is not supported.", (name,))
    pieces = _dollar_split(raw)
    if len(pieces) != len(param.components):
        raise incorrect(f"'{name}' takes {len(param.components)} values joined by '$', e.g. code$value.", name)
    parts, kinds = [], []
    for piece, (code, _expr) in zip(pieces, param.components, strict=True):
        comp = registry.get(resource_type, code)
        assert comp is not None
        parts.append(parse_value(comp, name, None, piece, base_url))
        kinds.append(comp.type)
    return CompositeValue(tuple(parts), tuple(kinds))


def parse_reference(raw: str, modifier: str | None, base_url: str) -> ReferenceValue:
    """`Patient/1`, `1` with a `:Patient` modifier, an absolute URL on this server, or any other URL."""
    value = raw
    if base_url and value.startswith(base_url.rstrip("/") + "/"):
        value = value[len(base_url.rstrip("/")) + 1 :]
    if "://" in value or value.startswith("urn:"):
        url, _, version = raw.partition("|")  # canonical|version (search.html#versions)
        return ReferenceValue(None, None, version or None, url=url)
    parts = value.split("/")
    version = None
    if len(parts) == 4 and parts[2] == "_history":
        version = parts[3]
        parts = parts[:2]
    if len(parts) == 2:
        return ReferenceValue(parts[0], parts[1], version)
    if len(parts) == 1:
        return ReferenceValue(modifier if modifier and modifier[0].isupper() else None, parts[0])
    return ReferenceValue(None, None, url=raw)


def parse(
    resource_type: str | None,
    params: list[tuple[str, str]],
    registry: Registry,
    *,
    strict: bool = False,
    base_url: str = "",
    max_count: int = 1000,
) -> SearchQuery:
    """Parse query parameters into a SearchQuery; unknown parameters raise under `strict`, else are listed."""
    query = SearchQuery(resource_type)
    for name, raw in params:
        code, _, modifier_text = name.partition(":")
        modifier = modifier_text or None
        if code in RESULT_PARAMS:
            _result_param(query, code, name, raw, max_count, registry)
            continue
        if code == "_type" and resource_type is None:
            query.echo.append((name, raw))
            continue
        if code == "_list":
            ids = tuple(_unescape(v) for v in _split_commas(raw) if v)
            if not ids:
                query.ignored.append(name)
                continue
            query.clauses.append(Clause(name, LIST, None, ids))
            query.echo.append((name, raw))
            continue
        if code == "_has" or "." in name:
            clause = _chained(resource_type or "Resource", name, raw, registry, base_url, strict)
            if clause is None:
                query.ignored.append(name)
            else:
                query.clauses.append(clause)
                query.echo.append((name, raw))
            continue
        param = registry.get(resource_type or "Resource", code)
        if param is None:
            if strict:
                raise incorrect(
                    f"Unknown search parameter '{code}' for {resource_type or 'system-level search'}.", name
                )
            query.ignored.append(name)
            continue
        if modifier == "missing":
            if raw not in ("true", "false"):
                raise incorrect(f"Parameter '{name}' takes true or false, not '{raw}'.", name)
            query.clauses.append(Clause(name, param, modifier, (), missing=raw == "true"))
            query.echo.append((name, raw))
            continue
        _check_modifier(param, name, modifier, strict)
        if raw == "":
            query.ignored.append(name)
            continue
        values = tuple(parse_value(param, name, modifier, v, base_url, registry, resource_type or "Resource")
                       for v in _split_commas(raw) if v)
        if not values:
            query.ignored.append(name)
            continue
        query.clauses.append(Clause(name, param, modifier, values))
        query.echo.append((name, raw))
    return query


LIST = SearchParam("_list", "special", "http://hl7.org/fhir/R4/search.html#list", ("Resource",), None)
_HAS = SearchParam("_has", "special", "http://hl7.org/fhir/R4/search.html#has", ("Resource",), None)


def _simple(resource_type: str, name: str, raw: str, registry: Registry, base_url: str,
            strict: bool) -> Clause | None:
    """A non-chained clause on `resource_type` (used at the end of a chain); None when unknown."""
    if name.startswith("_has:") or "." in name:
        return _chained(resource_type, name, raw, registry, base_url, strict)
    code, _, modifier_text = name.partition(":")
    param = registry.get(resource_type, code)
    if param is None:
        return None
    modifier = modifier_text or None
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise incorrect(f"Parameter '{name}' takes true or false, not '{raw}'.", name)
        return Clause(name, param, modifier, (), missing=raw == "true")
    _check_modifier(param, name, modifier, strict)
    values = tuple(parse_value(param, name, modifier, v, base_url, registry, resource_type)
                   for v in _split_commas(raw) if v)
    if not values:
        raise incorrect(f"Parameter '{name}' has no value.", name)
    return Clause(name, param, modifier, values)


def _chained(resource_type: str, name: str, raw: str, registry: Registry, base_url: str,
             strict: bool) -> Clause | None:
    """`subject:Patient.name`, `general-practitioner.name` (to any depth) and `_has:Type:param:rest`."""
    if name.startswith("_has:"):
        parts = name.split(":", 3)
        if len(parts) < 4 or not parts[1] or not parts[2] or not parts[3]:
            raise incorrect(f"'{name}' must read _has:[type]:[reference parameter]:[parameter].", name)
        _, other, ref_code, rest = parts
        ref_param = registry.get(other, ref_code)
        if ref_param is None or ref_param.type != "reference":
            raise incorrect(f"_has: {other} has no reference parameter '{ref_code}'.", name)
        inner = _simple(other, rest, raw, registry, base_url, strict)
        if inner is None:
            raise incorrect(f"_has: {other} has no search parameter '{rest.split(':')[0]}'.", name)
        return Clause(name, _HAS, None, (), has=(other, ref_param, inner))
    head, _, rest = name.partition(".")
    code, _, type_mod = head.partition(":")
    param = registry.get(resource_type, code)
    if param is None:
        if strict:
            raise incorrect(f"Unknown search parameter '{code}' for {resource_type}.", name)
        return None
    if param.type != "reference":
        raise incorrect(f"'{code}' is a {param.type} parameter: only reference parameters can be chained.", name)
    if type_mod:
        if param.targets and type_mod not in param.targets:
            raise incorrect(f"Parameter '{code}' cannot refer to {type_mod}.", name)
        targets: tuple[str, ...] = (type_mod,)
    else:
        targets = tuple(t for t in param.targets if registry.get(t, rest.split(".")[0].split(":")[0]))
        if not targets:
            raise incorrect(f"No type that '{code}' refers to has a search parameter "
                            f"'{rest.split('.')[0]}'; name the type, e.g. {code}:Patient.{rest}.", name)
    inner = None
    for t in targets:
        inner = _simple(t, rest, raw, registry, base_url, strict)
        if inner is not None:
            break
    if inner is None:
        raise incorrect(f"'{rest}' is not a search parameter of {', '.join(targets)}.", name)
    return Clause(name, param, type_mod or None, (), chain=(targets, inner))


_MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"exact", "contains"}),
    "token": frozenset({"text", "not", "of-type", "in", "not-in", "above", "below"}),
    "reference": frozenset({"identifier"}),
    "uri": frozenset({"below", "above"}),
    "date": frozenset(),
    "number": frozenset(),
    "quantity": frozenset(),
}


def _check_modifier(param: SearchParam, name: str, modifier: str | None, strict: bool) -> None:
    if modifier is None:
        return
    if param.type == "reference" and modifier[:1].isupper():
        if param.targets and modifier not in param.targets:
            raise incorrect(f"Parameter '{param.code}' cannot refer to {modifier}.", name)
        return
    if modifier not in _MODIFIERS.get(param.type, frozenset()):
        raise incorrect(f"Modifier ':{modifier}' is not supported on {param.type} parameter '{param.code}'.", name)


def _include(name: str, raw: str, registry: Registry) -> Include:
    if raw == "*":  # every reference of the matches (search.html#include)
        return Include("*", None, None, name.endswith(":iterate"))
    parts = raw.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise incorrect(f"{name} takes [type]:[parameter] or [type]:[parameter]:[target type], not '{raw}'.", name)
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    if code == "*":
        return Include(source, None, target, name.endswith(":iterate"))
    param = registry.get(source, code)
    if param is None or param.type != "reference":
        raise incorrect(f"{name}: {source} has no reference parameter '{code}'.", name)
    if target and param.targets and target not in param.targets:
        raise incorrect(f"{name}: '{code}' of {source} cannot refer to {target}.", name)
    return Include(source, code, target, name.endswith(":iterate"))


def _sort(query: SearchQuery, raw: str, registry: Registry) -> list[SortKey]:
    keys = []
    for item in raw.split(","):
        item = item.strip()
        desc = item.startswith("-")
        code = item.lstrip("-")
        param = registry.get(query.type or "Resource", code)
        if param is None or param.type in ("composite", "special"):
            raise incorrect(f"_sort: '{code}' is not a parameter {query.type or 'every type'} can be sorted by.",
                            "_sort")
        keys.append(SortKey(param, desc))
    return keys


def _result_param(query: SearchQuery, code: str, name: str, raw: str, max_count: int, registry: Registry) -> None:
    if code in ("_include", "_revinclude"):
        if name not in (code, f"{code}:iterate", f"{code}:recurse"):
            raise incorrect(f"Unknown modifier on {code}: '{name}'.", name)
        (query.includes if code == "_include" else query.revincludes).append(_include(name, raw, registry))
        query.echo.append((name, raw))
    elif code == "_sort":
        query.sort = _sort(query, raw, registry)
        query.echo.append((code, raw))
    elif code == "_elements":
        query.elements = [e.strip() for e in raw.split(",") if e.strip()]
        query.echo.append((code, raw))
    elif code == "_count":
        if not raw.isdigit():
            raise incorrect(f"_count must be a non-negative integer, not '{raw}'.", "_count")
        query.count = min(int(raw), max_count)
        query.echo.append(("_count", str(query.count)))
    elif code == "_summary":
        if raw not in SUMMARY_MODES:
            raise incorrect(f"_summary must be one of {', '.join(sorted(SUMMARY_MODES))}.", "_summary")
        query.summary = raw
        query.echo.append((code, raw))
    elif code == "_total":
        if raw not in TOTAL_MODES:
            raise incorrect(f"_total must be one of {', '.join(sorted(TOTAL_MODES))}.", "_total")
        query.total = raw
        query.echo.append((code, raw))
    elif code in ("_contained", "_containedType"):
        modes = CONTAINED_MODES if code == "_contained" else CONTAINED_TYPES
        if raw not in modes:
            raise incorrect(f"{code} must be one of {', '.join(sorted(modes))}, not '{raw}'.", code)
        if code == "_contained":
            query.contained = raw
        else:
            query.contained_type = raw
        query.echo.append((code, raw))
    elif code == "_cursor":
        query.cursor = raw
    elif code in ("_format", "_pretty"):
        return
    else:
        query.ignored.append(code)


def ignored_issue(query: SearchQuery) -> Issue | None:
    if not query.ignored:
        return None
    names = ", ".join(f"'{n}'" for n in query.ignored)
    return Issue(f"Ignored unknown or unsupported search parameters: {names}.", "not-supported", "warning",
                 tuple(query.ignored))


def valid_id(value: str) -> bool:
    return bool(_ID.match(value))
