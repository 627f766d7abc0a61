"""A compiler for the FHIRPath subset that SearchParameter expressions use (FHIRPath N1, FHIR R4).

Every SearchParameter has a FHIRPath `expression` saying which elements it indexes
(https://hl7.org/fhir/R4/searchparameter-definitions.html, https://hl7.org/fhirpath/N1/). Indexing runs on
every write, so expressions are compiled ONCE into Python closures over the JSON form of a resource; no
expression is interpreted per resource.

Supported: paths; `|` unions; parentheses; indexers `[n]`; `as`/`is` operators and `as()`, `is()`,
`ofType()` (choice elements `value[x]` are stored as `valueQuantity` etc., json.html#choice); `where()`
with any supported criteria, including `resolve() is Type`; `extension('url')`; `exists()`, `empty()`,
`not()`, `first()`, `last()`, `tail()`, `count()`, `distinct()`, `select()`, `hasValue()`, `trace()`;
`=`, `!=`, `~`, `!~`, `<`, `<=`, `>`, `>=`, `and`, `or`, `xor`, `implies`, `in`, `contains`; string,
number, boolean and `{}` literals; `%resource`, `%rootResource`, `%context`, `$this`, `%ucum`, `%sct`,
`%loinc`. Anything else raises `FhirPathError` at compile time.

Compilation is typed with the R4 element model (`caregate.fhir.definitions.element_types`): a choice
element without a type filter becomes one branch per allowed type, and each branch knows the FHIR type of
the values it yields, which is what the indexer needs to turn values into index rows (search.html#table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from caregate.fhir.definitions import element_types, is_resource_type
from caregate.fhir.fhirpath.model import PRIMITIVE_PARENT, QUANTITY_PROFILES

__all__ = [
    "FhirPathError",
    "TypedPath",
    "compile_expression",
    "compile_typed",
    "contained_resource",
    "reference_parts",
    "split_by_type",
    "try_compile",
    "type_matches",
]

Fn = Callable[[list[Any], dict[str, Any]], list[Any]]
"""A compiled step: (focus collection, root resource) -> output collection."""


class FhirPathError(ValueError):
    """An expression outside the supported subset, or one that does not fit the R4 element model."""


# --------------------------------------------------------------------------------------------- types

# A specialised type counts as its parent in `is`, `as` and `ofType()`: the FHIRPath engine's facts.
_PRIMITIVE_PARENT = {**PRIMITIVE_PARENT, **dict.fromkeys(QUANTITY_PROFILES, "Quantity")}
# FHIRPath System types and the FHIR types that map to them (fhirpath N1 "Models", FHIR R4 fhirpath.html).
_SYSTEM_TYPES: dict[str, frozenset[str]] = {
    "String": frozenset(
        {
            "string",
            "code",
            "id",
            "markdown",
            "uri",
            "url",
            "canonical",
            "oid",
            "uuid",
            "base64Binary",
            "xhtml",
        }
    ),
    "Boolean": frozenset({"boolean"}),
    "Integer": frozenset({"integer", "positiveInt", "unsignedInt"}),
    "Decimal": frozenset({"decimal"}),
    "Date": frozenset({"date"}),
    "DateTime": frozenset({"dateTime", "instant"}),
    "Time": frozenset({"time"}),
    "Quantity": frozenset(
        {"Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
    ),
}
_ABSTRACT_RESOURCES = frozenset({"Resource", "DomainResource"})
# Types whose JSON form is a string: a string value of unknown type may be any of them.
_TEXT_TYPES = (
    _SYSTEM_TYPES["String"]
    | _SYSTEM_TYPES["Date"]
    | _SYSTEM_TYPES["DateTime"]
    | _SYSTEM_TYPES["Time"]
    | {"String", "Date", "DateTime", "Time"}
)


def _plain_type(spec: str) -> tuple[str, bool]:
    """Strip a `FHIR.`/`System.` namespace; say whether the name is a System type."""
    if spec.startswith("System."):
        return spec[7:], True
    if spec.startswith("FHIR."):
        return spec[5:], False
    return spec, spec in _SYSTEM_TYPES and spec[0].isupper() and spec not in ("Quantity",)


def type_matches(declared: str, spec: str) -> bool:
    """Does a value of FHIR type `declared` satisfy the type specifier `spec` of `is`/`as`/`ofType`?

    Specializations count (`Age` is a `Quantity`, `code` is a `string`, any resource is a `Resource`), and
    FHIRPath System types match the FHIR primitives that map to them (`DateTime` matches `dateTime`).
    """
    name, system = _plain_type(spec)
    if system or name in _SYSTEM_TYPES:
        members = _SYSTEM_TYPES.get(name)
        if members is not None and declared in members:
            return True
        if system:
            return False
    current: str | None = declared
    while current is not None:
        if current == name:
            return True
        current = _PRIMITIVE_PARENT.get(current)
    return name in _ABSTRACT_RESOURCES and (declared in _ABSTRACT_RESOURCES or is_resource_type(declared))


def _runtime_is(value: Any, spec: str) -> bool:
    """Type test for a value whose type the compiler could not know (resolved or contained resources)."""
    name, _ = _plain_type(spec)
    if isinstance(value, dict):
        rtype = value.get("resourceType")
        if rtype is not None:
            return rtype == name or name in _ABSTRACT_RESOURCES
        return False
    if isinstance(value, bool):
        return name in ("boolean", "Boolean")
    if isinstance(value, int):
        return name in ("integer", "Integer", "decimal", "Decimal")
    if isinstance(value, float):
        return name in ("decimal", "Decimal")
    if isinstance(value, str):
        return name in _TEXT_TYPES
    return False


def _choice_key(name: str, type_code: str) -> str:
    """JSON name of one type of a choice: `value`, `Quantity` -> `valueQuantity` (json.html#choice)."""
    return name + type_code[0].upper() + type_code[1:]


# --------------------------------------------------------------------------------------------- references


@lru_cache(maxsize=65536)
def reference_parts(reference: str) -> tuple[str | None, str | None, str | None]:
    """(type, id, version) of a literal reference, or Nones when it names no `Type/id` (references.html).

    Handles relative `Patient/1`, versioned `Patient/1/_history/2` and absolute URLs that end with
    `Type/id[/_history/v]`. Contained (`#x`), `urn:uuid:`/`urn:oid:` and conditional references give Nones.
    """
    if not reference or reference[0] == "#" or reference.startswith("urn:") or "?" in reference:
        return None, None, None
    parts = reference.split("/")
    version = None
    if len(parts) >= 4 and parts[-2] == "_history":
        version = parts[-1] or None
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-1] and is_resource_type(parts[-2]):
        return parts[-2], parts[-1], version
    return None, None, None


def contained_resource(root: dict[str, Any], local_id: str) -> dict[str, Any] | None:
    """The contained resource a local reference `#local_id` points to (references.html#contained)."""
    for item in root.get("contained", ()):
        if isinstance(item, dict) and item.get("id") == local_id:
            return item
    return None


def _resolve(value: Any, root: dict[str, Any]) -> dict[str, Any] | None:
    """What `resolve()` can know without a database: the target's type (and the contained resource itself)."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if not isinstance(ref, str):
            hint = value.get("type")
            if isinstance(hint, str):
                name = hint.rsplit("/", 1)[-1]
                if is_resource_type(name):
                    return {"resourceType": name}
            return None
    elif isinstance(value, str):
        ref = value
    else:
        return None
    if ref.startswith("#"):
        return contained_resource(root, ref[1:])
    rtype, rid, _ = reference_parts(ref)
    if rtype is None:
        return None
    return {"resourceType": rtype, "id": rid}


# --------------------------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
  | (?P<var>[%$](?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`|'[^']*'))
  | (?P<op>!=|!~|<=|>=|[|=~<>()\[\].,{}+\-*/&])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string | number | ident | var | op | end
    text: str
    pos: int


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if match is None:
            raise FhirPathError(f"unsupported syntax at position {pos}: {expression[pos : pos + 20]!r}")
        kind = match.lastgroup or "space"
        if kind != "space":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(expression)))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _ident(text: str) -> str:
    return text[1:-1] if text.startswith("`") else text


# --------------------------------------------------------------------------------------------- syntax


@dataclass(frozen=True, slots=True)
class _Member:
    target: Node | None  # None: a name at the start of an expression (a type name or a child of the focus)
    name: str


@dataclass(frozen=True, slots=True)
class _Call:
    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class _Index:
    target: Node
    index: Node


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class _TypeOp:
    op: str  # is | as
    operand: Node
    type_name: str


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any  # None stands for the empty collection `{}`


@dataclass(frozen=True, slots=True)
class _Var:
    name: str


Node = _Member | _Call | _Index | _Binary | _TypeOp | _Literal | _Var

_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "!=", "~", "!~"),
    ("<", ">", "<=", ">="),
    ("|",),
)
_WORD_OPERATORS = frozenset({"implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod"})


class _Parser:
    """Recursive descent over the FHIRPath grammar, precedence as in fhirpath N1 §"Operator precedence"."""

    def __init__(self, expression: str) -> None:
        self.tokens = _tokenize(expression)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text or token.kind not in ("op", "ident"):
            raise FhirPathError(f"expected {text!r} at position {token.pos}, found {token.text or 'end'!r}")

    def parse(self) -> Node:
        node = self.binary(0)
        if self.peek().kind != "end":
            token = self.peek()
            raise FhirPathError(f"unsupported syntax at position {token.pos}: {token.text!r}")
        return node

    def _operator_here(self, ops: tuple[str, ...]) -> str | None:
        token = self.peek()
        if token.kind in ("op", "ident") and token.text in ops:
            # A word operator is only an operator when not followed by '(' (`.as(X)` is a function).
            if token.kind == "ident" and self.tokens[self.i + 1].text == "(":
                return None
            return token.text
        return None

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.type_expression()
        node = self.binary(level + 1)
        while (op := self._operator_here(_BINARY_LEVELS[level])) is not None:
            self.take()
            node = _Binary(op, node, self.binary(level + 1))
        return node

    def type_expression(self) -> Node:
        node = self.term()
        while (op := self._operator_here(("is", "as"))) is not None:
            self.take()
            node = _TypeOp(op, node, self.type_specifier())
        token = self.peek()
        if (token.kind == "op" and token.text in ("+", "-", "*", "/", "&")) or (
            token.kind == "ident" and token.text in ("div", "mod")
        ):
            raise FhirPathError(f"arithmetic operator {token.text!r} is not supported")
        return node

    def type_specifier(self) -> str:
        token = self.take()
        if token.kind != "ident":
            raise FhirPathError(f"expected a type name at position {token.pos}")
        name = _ident(token.text)
        if self.peek().text == "." and self.tokens[self.i + 1].kind == "ident":
            self.take()
            name = f"{name}.{_ident(self.take().text)}"
        return name

    def term(self) -> Node:
        node = self.primary()
        while True:
            token = self.peek()
            if token.text == "." and token.kind == "op":
                self.take()
                node = self.invocation(node)
            elif token.text == "[" and token.kind == "op":
                self.take()
                index = self.binary(0)
                self.expect("]")
                node = _Index(node, index)
            else:
                return node

    def invocation(self, target: Node | None) -> Node:
        token = self.take()
        if token.kind != "ident":
            raise FhirPathError(f"expected a name at position {token.pos}, found {token.text or 'end'!r}")
        name = _ident(token.text)
        if self.peek().text != "(" or token.text.startswith("`"):
            return _Member(target, name)
        self.take()
        args: list[Node] = []
        if self.peek().text != ")":
            if name in ("is", "as", "ofType"):
                args.append(_Literal(self.type_specifier()))
            else:
                args.append(self.binary(0))
            while self.peek().text == ",":
                self.take()
                args.append(self.binary(0))
        self.expect(")")
        return _Call(target, name, tuple(args))

    def primary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text == "(":
            self.take()
            node = self.binary(0)
            self.expect(")")
            return node
        if token.kind == "op" and token.text == "{":
            self.take()
            self.expect("}")
            return _Literal(None)
        if token.kind == "string":
            self.take()
            return _Literal(_unquote(token.text))
        if token.kind == "number":
            self.take()
            return _Literal(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "var":
            self.take()
            name = token.text[1:]
            if name[:1] in "`'":
                name = name[1:-1]
            return _Var(token.text[0] + name)
        if token.kind == "ident":
            if token.text in ("true", "false") and self.tokens[self.i + 1].text != "(":
                self.take()
                return _Literal(token.text == "true")
            if token.text in _WORD_OPERATORS and self.tokens[self.i + 1].text != "(":
                raise FhirPathError(f"unexpected operator {token.text!r} at position {token.pos}")
            return self.invocation(None)
        raise FhirPathError(f"unexpected {token.text or 'end of expression'!r} at position {token.pos}")


# --------------------------------------------------------------------------------------------- evaluation


def _identity(focus: list[Any], root: dict[str, Any]) -> list[Any]:
    return focus


def _step(nodes: Iterable[Any], key: str) -> list[Any]:
    """Child `key` of every node, arrays flattened (FHIRPath path navigation over JSON, json.html)."""
    out: list[Any] = []
    for node in nodes:
        if isinstance(node, dict):
            value = node.get(key)
            if value is None:
                continue
            if isinstance(value, list):
                out.extend(value)
                if None in value:  # primitive arrays keep nulls where only extensions exist
                    out = [v for v in out if v is not None]
            else:
                out.append(value)
    return out


def _walk_fn(base: Fn | None, keys: tuple[str, ...]) -> Fn:
    if not keys:
        return base or _identity
    if len(keys) == 1:
        key = keys[0]
        if base is None:
            return lambda focus, root: _step(focus, key)
        return lambda focus, root: _step(base(focus, root), key)

    def walk(focus: list[Any], root: dict[str, Any]) -> list[Any]:
        nodes = base(focus, root) if base is not None else focus
        for key in keys:
            if not nodes:
                return nodes
            nodes = _step(nodes, key)
        return nodes

    return walk


@dataclass(frozen=True, slots=True)
class _Branch:
    """Part of a compiled collection whose values all have one FHIR type (None: unknown).

    `keys` are child steps still to apply after `base`, kept apart so consecutive steps fuse into one loop.
    `anchor` is the first child of the focus that `base` reads, when `base` yields nothing without it.
    """

    base: Fn | None
    keys: tuple[str, ...]
    type: str | None
    anchor: str | None = None

    def fn(self) -> Fn:
        return _walk_fn(self.base, self.keys)

    def first_key(self) -> str | None:
        """A child of the focus without which this branch is empty (lets callers skip absent elements)."""
        if self.base is not None:
            return self.anchor
        return self.keys[0] if self.keys else None

    def then(self, fn: Callable[[list[Any], dict[str, Any]], list[Any]], type_code: str | None) -> _Branch:
        """A branch applying `fn`, which must map an empty collection to an empty one, to this output."""
        inner = self.fn()
        if inner is _identity:
            return _Branch(fn, (), type_code)
        return _Branch(lambda focus, root: fn(inner(focus, root), root), (), type_code, self.first_key())


def _merge(branches: Sequence[_Branch]) -> Fn:
    """One function yielding the whole collection of several branches (for functions over collections)."""
    fns = [b.fn() for b in branches]
    if not fns:
        return lambda focus, root: []
    if len(fns) == 1:
        return fns[0]

    def union(focus: list[Any], root: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for fn in fns:
            out.extend(fn(focus, root))
        return out

    return union


def _common_type(branches: Sequence[_Branch]) -> str | None:
    types = {b.type for b in branches}
    return types.pop() if len(types) == 1 else None


def _singleton_bool(values: list[Any]) -> bool | None:
    """Boolean of a collection per fhirpath N1 "Singleton Evaluation of Collections"."""
    if not values:
        return None
    if len(values) == 1:
        value = values[0]
        return value if isinstance(value, bool) else True
    raise _MultipleValues


class _MultipleValues(Exception):
    """A singleton operation met several values: the result is the empty collection here."""


def _equal(left: list[Any], right: list[Any]) -> list[Any]:
    if not left or not right:
        return []
    if len(left) != len(right):
        return [False]
    return [all(_same(a, b) for a, b in zip(left, right, strict=True))]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _equivalent(left: list[Any], right: list[Any]) -> list[Any]:
    if not left and not right:
        return [True]
    if len(left) != len(right):
        return [False]

    def norm(v: Any) -> Any:
        return " ".join(v.lower().split()) if isinstance(v, str) else v

    return [sorted(map(repr, map(norm, left))) == sorted(map(repr, map(norm, right)))]


def _compare(op: str, left: list[Any], right: list[Any]) -> list[Any]:
    if len(left) != 1 or len(right) != 1:
        return []
    a, b = left[0], right[0]
    if (
        isinstance(a, bool)
        or isinstance(b, bool)
        or (type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)))
    ):
        return []
    if op == "<":
        return [a < b]
    if op == ">":
        return [a > b]
    if op == "<=":
        return [a <= b]
    return [a >= b]


def _logic(op: str, a: bool | None, b: bool | None) -> list[Any]:
    if op == "and":
        if a is False or b is False:
            return [False]
        return [True] if a is True and b is True else []
    if op == "or":
        if a is True or b is True:
            return [True]
        return [False] if a is False and b is False else []
    if op == "xor":
        return [] if a is None or b is None else [a != b]
    # implies
    if a is False or b is True:
        return [True]
    if a is True:
        return [] if b is None else [b]
    return [] if b is not True else [True]


_CONSTANTS = {
    "%ucum": "http://unitsofmeasure.org",
    "%sct": "http://snomed.info/sct",
    "%loinc": "http://loinc.org",
}


class _Compiler:
    """Turns syntax into typed branches for one resource type (None: any; types then checked at run time)."""

    def __init__(self, resource_type: str | None) -> None:
        self.resource_type = resource_type

    # -- entry points

    def branches(self, node: Node, focus: list[_Branch]) -> list[_Branch]:
        if isinstance(node, _Member):
            if node.target is None:
                return self.name_at_start(node.name, focus)
            return [out for b in self.branches(node.target, focus) for out in self.child(b, node.name)]
        if isinstance(node, _Call):
            return self.call(node, focus)
        if isinstance(node, _Index):
            return self.index(node, focus)
        if isinstance(node, _Binary):
            return self.binary(node, focus)
        if isinstance(node, _TypeOp):
            inner = self.branches(node.operand, focus)
            if node.op == "as":
                return self.filter_type(inner, node.type_name, node.operand)
            return [self.is_type(inner, node.type_name)]
        if isinstance(node, _Literal):
            value = node.value
            result: list[Any] = [] if value is None else [value]
            type_code = {bool: "boolean", int: "integer", float: "decimal", str: "string"}.get(type(value))
            return [_Branch(lambda f, r: list(result), (), type_code)]
        return self.variable(node, focus)

    def variable(self, node: _Var, focus: list[_Branch]) -> list[_Branch]:
        name = node.name
        if name in ("%resource", "%rootResource", "%context"):
            return [_Branch(lambda f, r: [r], (), self.resource_type)]
        if name == "$this":
            return list(focus)
        if name in _CONSTANTS:
            constant = [_CONSTANTS[name]]
            return [_Branch(lambda f, r: list(constant), (), "uri")]
        raise FhirPathError(f"variable {name} is not supported")

    # -- navigation

    def name_at_start(self, name: str, focus: list[_Branch]) -> list[_Branch]:
        """`Patient` in `Patient.name` filters the focus by type; other names are children of the focus."""
        if name[:1].isupper() and (name in _ABSTRACT_RESOURCES or is_resource_type(name)):
            return self.filter_type(focus, name, None)
        return [out for b in focus for out in self.child(b, name)]

    def child(self, branch: _Branch, name: str) -> list[_Branch]:
        type_code = branch.type
        if name in ("extension", "modifierExtension"):
            return [_Branch(branch.base, (*branch.keys, name), "Extension")]
        kids = element_types(type_code) if type_code is not None else None
        if kids is None:
            if type_code is not None and type_code[:1].islower():
                raise FhirPathError(f"primitive type {type_code} has no element '{name}'")
            return [_Branch(branch.base, (*branch.keys, name), None)]
        types = kids.get(name)
        if types is not None:
            return [_Branch(branch.base, (*branch.keys, name), types[0] if len(types) == 1 else None)]
        choice = kids.get(name + "[x]")
        if choice is not None:
            return [_Branch(branch.base, (*branch.keys, _choice_key(name, t)), t) for t in choice]
        if name == "id":
            return [_Branch(branch.base, (*branch.keys, name), "string")]
        if type_code in _ABSTRACT_RESOURCES:
            return [_Branch(branch.base, (*branch.keys, name), None)]
        raise FhirPathError(f"{type_code} has no element '{name}'")

    def index(self, node: _Index, focus: list[_Branch]) -> list[_Branch]:
        if not isinstance(node.index, _Literal) or not isinstance(node.index.value, int):
            raise FhirPathError("only literal integer indexers are supported")
        position = node.index.value
        inner = self.branches(node.target, focus)
        fn = _merge(inner)

        def pick(f: list[Any], r: dict[str, Any]) -> list[Any]:
            values = fn(f, r)
            return [values[position]] if 0 <= position < len(values) else []

        return [_Branch(pick, (), _common_type(inner))]

    # -- types

    def filter_type(self, branches: list[_Branch], spec: str, operand: Node | None) -> list[_Branch]:
        """`as Type` / `ofType(Type)`: keep the values of that type (choice elements pick one JSON name)."""
        kept: list[_Branch] = []
        for b in branches:
            if b.type is not None:
                if type_matches(b.type, spec):
                    kept.append(b)
                continue
            name, _ = _plain_type(spec)
            if b.keys and isinstance(operand, _Member | _Call) and name[:1].isalpha():
                # Unknown element: it may be a choice stored as `<name><Type>` in JSON.
                kept.append(_Branch(b.base, (*b.keys[:-1], _choice_key(b.keys[-1], name)), name))
            kept.append(b.then(lambda items, r: [v for v in items if _runtime_is(v, spec)], name))
        return kept

    def is_type(self, branches: list[_Branch], spec: str) -> _Branch:
        parts = [(b.fn(), None if b.type is None else type_matches(b.type, spec)) for b in branches]

        def test(focus: list[Any], root: dict[str, Any]) -> list[Any]:
            results = [
                static if static is not None else _runtime_is(v, spec)
                for fn, static in parts
                for v in fn(focus, root)
            ]
            return results if len(results) == 1 else []

        return _Branch(test, (), "boolean")

    # -- operators

    def binary(self, node: _Binary, focus: list[_Branch]) -> list[_Branch]:
        op = node.op
        left = self.branches(node.left, focus)
        right = self.branches(node.right, focus)
        if op == "|":
            return left + right
        lf, rf = _merge(left), _merge(right)
        if op in ("=", "!="):
            negate = op == "!="

            def equality(f: list[Any], r: dict[str, Any]) -> list[Any]:
                result = _equal(lf(f, r), rf(f, r))
                return [not result[0]] if negate and result else result

            return [_Branch(equality, (), "boolean")]
        if op in ("~", "!~"):
            negate = op == "!~"

            def equivalence(f: list[Any], r: dict[str, Any]) -> list[Any]:
                result = _equivalent(lf(f, r), rf(f, r))
                return [not result[0]] if negate else result

            return [_Branch(equivalence, (), "boolean")]
        if op in ("<", ">", "<=", ">="):
            return [_Branch(lambda f, r: _compare(op, lf(f, r), rf(f, r)), (), "boolean")]
        if op in ("in", "contains"):
            item_fn, coll_fn = (lf, rf) if op == "in" else (rf, lf)

            def membership(f: list[Any], r: dict[str, Any]) -> list[Any]:
                items = item_fn(f, r)
                if len(items) != 1:
                    return []
                return [any(_same(items[0], v) for v in coll_fn(f, r))]

            return [_Branch(membership, (), "boolean")]

        def logic(f: list[Any], r: dict[str, Any]) -> list[Any]:
            try:
                return _logic(op, _singleton_bool(lf(f, r)), _singleton_bool(rf(f, r)))
            except _MultipleValues:
                return []

        return [_Branch(logic, (), "boolean")]

    # -- functions

    def call(self, node: _Call, focus: list[_Branch]) -> list[_Branch]:
        name, args = node.name, node.args
        inner = focus if node.target is None else self.branches(node.target, focus)
        if name in ("as", "ofType"):
            return self.filter_type(inner, self._type_arg(node), node.target)
        if name == "is":
            return [self.is_type(inner, self._type_arg(node))]
        if name == "where":
            self._arity(node, 1)
            return [self.where(b, args[0]) for b in inner]
        if name == "select":
            self._arity(node, 1)
            out: list[_Branch] = []
            for b in inner:
                for sub in self.branches(args[0], [_Branch(None, (), b.type)]):
                    out.append(b.then(self._project(sub.fn()), sub.type))
            return out
        if name == "extension":
            self._arity(node, 1)
            if not isinstance(args[0], _Literal) or not isinstance(args[0].value, str):
                raise FhirPathError("extension() needs a literal url")
            url = args[0].value
            return [
                b.then(lambda f, r: [e for e in _step(f, "extension") if e.get("url") == url], "Extension")
                for b in inner
            ]
        if name == "resolve":
            self._arity(node, 0)
            fn = _merge(inner)
            return [
                _Branch(lambda f, r: [t for v in fn(f, r) if (t := _resolve(v, r)) is not None], (), None)
            ]
        if name == "trace":
            return inner
        return [self.aggregate(node, inner)]

    def aggregate(self, node: _Call, inner: list[_Branch]) -> _Branch:
        """Functions of the whole input collection."""
        name, args = node.name, node.args
        fn = _merge(inner)
        kind = _common_type(inner)
        if name == "exists":
            if args:
                crit = _merge([self.where(b, args[0]) for b in inner])
                return _Branch(lambda f, r: [bool(crit(f, r))], (), "boolean")
            return _Branch(lambda f, r: [bool(fn(f, r))], (), "boolean")
        if name in ("empty", "not", "hasValue", "count", "first", "last", "tail", "distinct"):
            self._arity(node, 0)
        if name == "empty":
            return _Branch(lambda f, r: [not fn(f, r)], (), "boolean")
        if name == "not":

            def negate(f: list[Any], r: dict[str, Any]) -> list[Any]:
                try:
                    value = _singleton_bool(fn(f, r))
                except _MultipleValues:
                    return []
                return [] if value is None else [not value]

            return _Branch(negate, (), "boolean")
        if name == "hasValue":
            return _Branch(
                lambda f, r: [len(v := fn(f, r)) == 1 and not isinstance(v[0], dict)], (), "boolean"
            )
        if name == "count":
            return _Branch(lambda f, r: [len(fn(f, r))], (), "integer")
        if name == "first":
            return _Branch(lambda f, r: fn(f, r)[:1], (), kind)
        if name == "last":
            return _Branch(lambda f, r: fn(f, r)[-1:], (), kind)
        if name == "tail":
            return _Branch(lambda f, r: fn(f, r)[1:], (), kind)
        if name == "distinct":

            def distinct(f: list[Any], r: dict[str, Any]) -> list[Any]:
                out: list[Any] = []
                for v in fn(f, r):
                    if not any(_same(v, seen) for seen in out):
                        out.append(v)
                return out

            return _Branch(distinct, (), kind)
        raise FhirPathError(f"function {name}() is not supported")

    def where(self, branch: _Branch, criteria: Node) -> _Branch:
        fast = self._fast_criteria(criteria, branch.type)
        if fast is not None:
            return branch.then(fast, branch.type)
        crit = _merge(self.branches(criteria, [_Branch(None, (), branch.type)]))

        def keep(items: list[Any], root: dict[str, Any]) -> list[Any]:
            out = []
            for item in items:
                try:
                    if _singleton_bool(crit([item], root)) is True:
                        out.append(item)
                except _MultipleValues:
                    continue
            return out

        return branch.then(keep, branch.type)

    def _fast_criteria(self, criteria: Node, type_code: str | None) -> Fn | None:
        """Direct filters for the two criteria shapes R4 parameters use (same result as the general path)."""
        if (
            isinstance(criteria, _TypeOp)
            and criteria.op == "is"
            and isinstance(criteria.operand, _Call)
            and criteria.operand.name == "resolve"
            and criteria.operand.target is None
            and not criteria.operand.args
        ):
            wanted, _ = _plain_type(criteria.type_name)

            def resolves_to(items: list[Any], root: dict[str, Any]) -> list[Any]:
                out = []
                for item in items:
                    target = _resolve(item, root)
                    if target is not None and _runtime_is(target, wanted):
                        out.append(item)
                return out

            return resolves_to
        if (
            isinstance(criteria, _Binary)
            and criteria.op == "="
            and isinstance(criteria.left, _Member)
            and criteria.left.target is None
            and isinstance(criteria.right, _Literal)
            and isinstance(criteria.right.value, str)
        ):
            field, literal = criteria.left.name, criteria.right.value
            kids = element_types(type_code) if type_code is not None else None
            if kids is not None and field not in kids:
                return None  # a choice or unknown element: let the general path resolve (or reject) it
            single = [literal]

            def equals_literal(items: list[Any], root: dict[str, Any]) -> list[Any]:
                # `field = 'x'` is true when the field's collection is exactly the one string 'x'.
                out = []
                for item in items:
                    if isinstance(item, dict):
                        value = item.get(field)
                        if value in (literal, single):
                            out.append(item)
                return out

            return equals_literal
        return None

    @staticmethod
    def _project(fn: Fn) -> Callable[[list[Any], dict[str, Any]], list[Any]]:
        def project(items: list[Any], root: dict[str, Any]) -> list[Any]:
            out: list[Any] = []
            for item in items:
                out.extend(fn([item], root))
            return out

        return project

    @staticmethod
    def _type_arg(node: _Call) -> str:
        if (
            len(node.args) != 1
            or not isinstance(node.args[0], _Literal)
            or not isinstance(node.args[0].value, str)
        ):
            raise FhirPathError(f"{node.name}() needs one type name")
        return node.args[0].value

    @staticmethod
    def _arity(node: _Call, count: int) -> None:
        if len(node.args) != count:
            raise FhirPathError(f"{node.name}() takes {count} argument(s), not {len(node.args)}")


# --------------------------------------------------------------------------------------------- public API


@dataclass(frozen=True, slots=True)
class TypedPath:
    """One typed part of a compiled expression: `evaluate(resource)` gives values of FHIR type `type`.

    `type` is a FHIR type code (`CodeableConcept`, `dateTime`, ...) or None when it cannot be known
    statically (resolved references, untyped custom paths); callers then look at the values themselves.
    """

    type: str | None
    evaluate: Callable[[dict[str, Any]], list[Any]]
    anchor: str | None = None
    """A top-level element without which `evaluate` yields nothing (None: unknown); indexers skip on it."""


def _public(branch: _Branch) -> Callable[[dict[str, Any]], list[Any]]:
    """Evaluate on a resource; plain paths start with a direct lookup of their first element."""
    if branch.base is not None or not branch.keys:
        fn = branch.fn()
        return lambda resource: fn([resource], resource)
    first, rest = branch.keys[0], branch.keys[1:]

    def evaluate(resource: dict[str, Any]) -> list[Any]:
        value = resource.get(first)
        if value is None:
            return []
        nodes = [v for v in value if v is not None] if isinstance(value, list) else [value]
        for key in rest:
            if not nodes:
                break
            nodes = _step(nodes, key)
        return nodes

    return evaluate


@lru_cache(maxsize=4096)
def compile_typed(expression: str, resource_type: str | None = None) -> tuple[TypedPath, ...]:
    """Compile an expression for resources of `resource_type` into typed parts (raises FhirPathError).

    Parts with the same type are kept apart only when they come from different paths; together the parts
    yield exactly the collection the expression denotes (order aside).
    """
    node = _Parser(expression).parse()
    root = _Branch(None, (), resource_type)
    branches = _Compiler(resource_type).branches(node, [root])
    return tuple(TypedPath(b.type, _public(b), b.first_key()) for b in branches)


def compile_expression(
    expression: str, resource_type: str | None = None
) -> Callable[[dict[str, Any]], list[Any]]:
    """Compile to one closure: resource JSON -> the values found, arrays flattened (raises FhirPathError)."""
    parts = compile_typed(expression, resource_type)
    if len(parts) == 1:
        return parts[0].evaluate
    evaluators = [p.evaluate for p in parts]

    def evaluate(resource: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for fn in evaluators:
            out.extend(fn(resource))
        return out

    return evaluate


def try_compile(
    expression: str, resource_type: str | None = None
) -> Callable[[dict[str, Any]], list[Any]] | None:
    """`compile_expression`, or None for an expression outside the subset (callers skip that parameter)."""
    try:
        return compile_expression(expression, resource_type)
    except FhirPathError:
        return None


def _top_level_unions(tokens: list[_Token]) -> list[tuple[int, int]] | None:
    """Token spans of the top-level `|` operands, or None when another top-level operator joins them."""
    spans: list[tuple[int, int]] = []
    depth, start = 0, 0
    for i, token in enumerate(tokens):
        if token.kind == "op" and token.text in "([{":
            depth += 1
        elif token.kind == "op" and token.text in ")]}":
            depth -= 1
        elif depth == 0 and token.kind == "op" and token.text == "|":
            spans.append((start, i))
            start = i + 1
        elif depth == 0 and (
            (token.kind == "op" and token.text in ("=", "!=", "~", "!~", "<", ">", "<=", ">="))
            or (
                token.kind == "ident"
                and token.text in _WORD_OPERATORS - {"is", "as"}
                and i > 0
                and tokens[i - 1].text != "."
                and tokens[i + 1].text != "("
            )
        ):
            return None
    spans.append((start, len(tokens) - 1))
    return spans


def split_by_type(
    expression: str, bases: Sequence[str], is_type: Callable[[str], bool] = is_resource_type
) -> dict[str, str]:
    """Restrict a shared expression to each base type (searchparameter-registry: one parameter, many bases).

    `AllergyIntolerance.code | Condition.code` with bases [AllergyIntolerance, Condition] gives
    {'AllergyIntolerance': 'AllergyIntolerance.code', 'Condition': 'Condition.code'}. A branch whose first
    name is not a type applies to every base; `Resource`/`DomainResource` branches apply to all bases. A
    base that no branch mentions is left out of the result. `is_type` tells resource type names (the
    definitions generator passes its own, before the generated data exists).
    """
    tokens = _tokenize(expression)
    spans = _top_level_unions(tokens)
    if spans is None:
        spans = [(0, len(tokens) - 1)]
    base_set = set(bases)
    parts: dict[str, list[str]] = {}
    for first, last in spans:
        if first >= last:
            raise FhirPathError(f"empty union operand in {expression!r}")
        text = expression[tokens[first].pos : tokens[last - 1].pos + len(tokens[last - 1].text)].strip()
        root = next((t for t in tokens[first:last] if t.kind != "op" or t.text != "("), None)
        name = _ident(root.text) if root is not None and root.kind == "ident" else ""
        if name in base_set:
            targets: Iterable[str] = (name,)
        elif name and name[0].isupper() and (is_type(name) and name not in _ABSTRACT_RESOURCES):
            targets = ()  # a branch for a type that is not a base of this parameter
        else:
            targets = bases
        for target in targets:
            parts.setdefault(target, []).append(text)
    return {base: " | ".join(parts[base]) for base in bases if base in parts}
