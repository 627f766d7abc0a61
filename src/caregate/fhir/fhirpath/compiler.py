"""Compile a FHIRPath syntax tree into nested Python closures, once per expression.

Each node becomes a function `(context collection, env) -> collection`; invocations apply a step to the
collection their target produced, while the arguments of ordinary functions are evaluated against the
caller's context and those of iterating functions (`where`, `select`, `all`, ...) per item, with `$this`
bound to the item (N1 §5 "Functions", §5.2.2 "$this"). Nothing is re-parsed or looked up by name while
evaluating: member plans are cached per FHIR type inside each step.

In strict mode the compiler also infers FHIR types along paths that start with a type name and rejects
members the R4 model does not have (`(Observation.value as Period).unit`), and ordered functions applied
to `children()`/`descendants()` (whose order is undefined, N1 §5.8) - the semantic errors the official
suite expects in its strict tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from caregate.fhir.definitions import element_types
from caregate.fhir.fhirpath import nodes as n
from caregate.fhir.fhirpath.errors import FhirPathEvaluationError, FhirPathSemanticError
from caregate.fhir.fhirpath.fn_types import type_as, type_is
from caregate.fhir.fhirpath.model import (
    Node,
    TypeInfo,
    fhir_subtype_of,
    is_known_fhir_type,
    member_plan,
    read_member,
)
from caregate.fhir.fhirpath.operators import BINARY_OPERATORS, negate
from caregate.fhir.fhirpath.quantity import Quantity
from caregate.fhir.fhirpath.runtime import FUNCTIONS, Env, Eval
from caregate.fhir.fhirpath.values import SYSTEM_TYPES, resolve_type, single, to_boolean, to_system

__all__ = ["compile_tree"]

Step = Callable[[list, list, Env], list]
"""An invocation step: (input collection, caller's context, env) -> output collection."""
_MISSING = object()


class Static(NamedTuple):
    """What the compiler knows about a result: its possible FHIR types (None: unknown) and whether its
    order is undefined."""

    types: frozenset[str] | None
    unordered: bool = False


_UNKNOWN = Static(None)


def _attribute(out: list, item: object, name: str) -> None:
    """Members of System values that FHIRPath exposes: TypeInfo name/namespace, Quantity value/unit."""
    if (item.__class__ is TypeInfo and name in ("name", "namespace")) or (
        item.__class__ is Quantity and name in ("value", "unit")
    ):
        out.append(getattr(item, name))


def _primitive_member(out: list, item: Node, name: str) -> None:
    """`id` and `extension` of a primitive live in its `_name` companion (json.html#primitive)."""
    ext = item.ext
    if name == "id" and ext.get("id") is not None:
        out.append(Node(ext["id"], "string", None, item, "id"))
    elif name == "extension":
        start = len(out)
        read_member(out, Node(ext, None, None, item.parent, item.name, item.index), "extension", "Extension", False)
        for node in out[start:]:
            node.parent = item


def _member_step(name: str) -> Step:
    plans: dict[str, object] = {}

    def step(items: list, ctx: list, env: Env) -> list:
        out: list = []
        for item in items:
            if item.__class__ is not Node:
                _attribute(out, item, name)
                continue
            if item.data.__class__ is not dict:
                if item.ext is not None:
                    _primitive_member(out, item, name)
                continue
            t = item.type
            if t is None:
                read_member(out, item, name, None, True)
                continue
            plan = plans.get(t, _MISSING)
            if plan is _MISSING:
                plan = plans[t] = member_plan(t, name)
            if plan is None:
                if env.strict:
                    raise FhirPathSemanticError(f"{t} has no element {name!r}")
                read_member(out, item, name, None, True)
                continue
            for key, ctype, primitive in plan:  # type: ignore[attr-defined]
                read_member(out, item, key, ctype, primitive)
        return out

    return step


def _type_name(node: n.Node) -> str:
    if isinstance(node, n.Identifier):
        return node.name
    if isinstance(node, n.Invocation) and isinstance(node.member, n.Identifier):
        return f"{_type_name(node.target)}.{node.member.name}"
    raise FhirPathSemanticError(f"expected a type name at position {node.pos}")


class _Compiler:
    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def compile(self, node: n.Node) -> tuple[Eval, Static]:
        handler = getattr(self, "_" + type(node).__name__)
        return handler(node)

    def _Literal(self, node: n.Literal) -> tuple[Eval, Static]:
        result = [node.value]
        return (lambda ctx, env: result), Static(frozenset(("System." + SYSTEM_TYPES[node.value.__class__],)))

    def _EmptyLiteral(self, node: n.EmptyLiteral) -> tuple[Eval, Static]:
        empty: list = []
        return (lambda ctx, env: empty), _UNKNOWN

    def _Identifier(self, node: n.Identifier) -> tuple[Eval, Static]:
        name = node.name
        member, static = self._member(name, _UNKNOWN)
        if not (name[:1].isupper() and is_known_fhir_type(name)):
            return (lambda ctx, env: member(ctx, ctx, env)), static
        strict = self.strict

        def type_filter(ctx: list, env: Env) -> list:
            # A leading type name selects the context when it has that type (fhirpath.html#path).
            out = [i for i in ctx if i.__class__ is Node and i.type is not None and fhir_subtype_of(i.type, name)]
            if out or not ctx:
                return out
            if strict:
                raise FhirPathSemanticError(f"the context is not a {name}")
            return member(ctx, ctx, env)

        return type_filter, Static(frozenset((name,)))

    def _member(self, name: str, incoming: Static) -> tuple[Step, Static]:
        types = None
        if incoming.types is not None:
            found: set[str] = set()
            known = False
            for t in incoming.types:
                plan = member_plan(t, name)
                if plan is not None:
                    known = True
                    found.update(ctype for _, ctype, _ in plan)
            if not known and self.strict and all(element_types(t) is not None for t in incoming.types):
                raise FhirPathSemanticError(f"{' | '.join(sorted(incoming.types))} has no element {name!r}")
            if known and "Resource" not in found:
                types = frozenset(found)
        return _member_step(name), Static(types, incoming.unordered)

    def _step(self, member: n.Node, incoming: Static) -> tuple[Step, Static]:
        if isinstance(member, n.Identifier):
            return self._member(member.name, incoming)
        if isinstance(member, n.FunctionCall):
            return self._function(member, incoming)
        if isinstance(member, n.Special) and member.name == "this":
            return (lambda items, ctx, env: items), incoming
        raise FhirPathSemanticError(f"unexpected ${getattr(member, 'name', '?')} after '.'")

    def _function(self, node: n.FunctionCall, incoming: Static) -> tuple[Step, Static]:
        fdef = FUNCTIONS.get(node.name)
        if fdef is None:
            raise FhirPathSemanticError(f"unknown function {node.name}() at position {node.pos}")
        count = len(node.args)
        if not fdef.min_args <= count <= fdef.max_args:
            raise FhirPathSemanticError(f"{node.name}() takes {fdef.min_args}..{fdef.max_args} arguments, got {count}")
        if self.strict and fdef.ordered and incoming.unordered:
            raise FhirPathSemanticError(
                f"{node.name}() needs an ordered collection; children()/descendants() have no defined order"
            )
        impl = fdef.impl
        static = Static(incoming.types, incoming.unordered) if fdef.keeps_type else _UNKNOWN
        if node.name in ("children", "descendants"):
            static = Static(None, True)
        step: Step
        if fdef.kind == "type":
            written = _type_name(node.args[0])
            spec = resolve_type(written)
            if spec is not None and node.name in ("as", "ofType"):
                static = Static(frozenset((spec.name,)))
            return (lambda items, ctx, env: impl(env, items, spec, written)), static
        if fdef.kind == "keys":
            keys = tuple((self.compile(_unsigned(arg))[0], _descending(arg)) for arg in node.args)
            return (lambda items, ctx, env: impl(env, items, ctx, keys)), static
        compiled = [self.compile(arg) for arg in node.args]
        _check_argument_types(node, incoming, [s for _, s in compiled])
        evals = tuple(e for e, _ in compiled)
        if fdef.kind == "lambda":
            step = lambda items, ctx, env: impl(env, items, ctx, *evals)  # noqa: E731
        elif count == 0:
            step = lambda items, ctx, env: impl(env, items)  # noqa: E731
        elif count == 1:
            (first,) = evals
            step = lambda items, ctx, env: impl(env, items, first(ctx, env))  # noqa: E731
        else:
            step = lambda items, ctx, env: impl(env, items, *[e(ctx, env) for e in evals])  # noqa: E731
        return step, static

    def _FunctionCall(self, node: n.FunctionCall) -> tuple[Eval, Static]:
        step, static = self._function(node, _UNKNOWN)
        return (lambda ctx, env: step(ctx, ctx, env)), static

    def _Invocation(self, node: n.Invocation) -> tuple[Eval, Static]:
        target, incoming = self.compile(node.target)
        step, static = self._step(node.member, incoming)
        return (lambda ctx, env: step(target(ctx, env), ctx, env)), static

    def _Indexer(self, node: n.Indexer) -> tuple[Eval, Static]:
        target, incoming = self.compile(node.target)
        index, _ = self.compile(node.index)
        if self.strict and incoming.unordered:
            raise FhirPathSemanticError("an indexer needs an ordered collection")

        def indexer(ctx: list, env: Env) -> list:
            items = target(ctx, env)
            position = index(ctx, env)
            if not position:
                return []
            i = to_system(single(position, "indexer"))
            if i.__class__ is not int:
                raise FhirPathEvaluationError("an index must be an Integer")
            return [items[i]] if 0 <= i < len(items) else []

        return indexer, Static(incoming.types)

    def _Special(self, node: n.Special) -> tuple[Eval, Static]:
        if node.name == "this":
            return (lambda ctx, env: ctx), _UNKNOWN
        if node.name == "index":
            return (lambda ctx, env: [] if env.index is None else [env.index]), _UNKNOWN
        return (lambda ctx, env: env.total), _UNKNOWN

    def _Variable(self, node: n.Variable) -> tuple[Eval, Static]:
        name = node.name
        return (lambda ctx, env: env.variable(name)), _UNKNOWN

    def _Unary(self, node: n.Unary) -> tuple[Eval, Static]:
        operand, _ = self.compile(node.operand)
        op = node.op
        return (lambda ctx, env: negate(operand(ctx, env), op)), _UNKNOWN

    def _Binary(self, node: n.Binary) -> tuple[Eval, Static]:
        left, ls = self.compile(node.left)
        right, rs = self.compile(node.right)
        op = node.op
        if op in ("and", "or", "implies"):
            return _logic(op, left, right), _UNKNOWN
        fn = BINARY_OPERATORS[op]
        if isinstance(node.left, n.Literal) and isinstance(node.right, n.Literal) and op in _ARITHMETIC:
            try:
                fn([node.left.value], [node.right.value])
            except FhirPathEvaluationError as e:
                raise FhirPathSemanticError(f"{e} at position {node.pos}") from None
        static = _UNKNOWN
        if op == "|" and ls.types is not None and rs.types is not None:
            static = Static(ls.types | rs.types)
        return (lambda ctx, env: fn(left(ctx, env), right(ctx, env))), static

    def _TypeOperation(self, node: n.TypeOperation) -> tuple[Eval, Static]:
        operand, _ = self.compile(node.operand)
        written = node.type_name
        spec = resolve_type(written)
        if node.op == "is":
            return (lambda ctx, env: type_is(env, operand(ctx, env), spec, written)), _UNKNOWN
        static = Static(frozenset((spec.name,))) if spec is not None else _UNKNOWN
        return (lambda ctx, env: type_as(env, operand(ctx, env), spec, written)), static


_ARITHMETIC = frozenset(("+", "-", "*", "/", "div", "mod", "&"))
_STRING_FUNCTIONS = frozenset(("startsWith", "endsWith", "contains", "matches", "matchesFull", "indexOf", "substring",
                               "replace", "replaceMatches", "length", "upper", "lower", "toChars", "trim", "split",
                               "encode", "decode", "escape", "unescape"))
_STRING_TYPES = frozenset(("System.String", "string", "code", "id", "markdown", "uri", "url", "canonical", "oid",
                           "uuid", "base64Binary", "xhtml"))
_BOOLEAN_TYPES = frozenset(("System.Boolean", "boolean"))


def _known(static: Static) -> bool:
    """Whether every possible type of a result is certain (a System type or a concrete FHIR type)."""
    return static.types is not None and all(t.startswith("System.") or is_known_fhir_type(t) for t in static.types)


def _check_argument_types(node: n.FunctionCall, incoming: Static, args: list[Static]) -> None:
    """Semantic errors the types alone prove (N1 §5.6 string functions take a String; `iif`'s criterion is a
    Boolean): raised when compiling, whatever the data, which is what the official suite expects."""
    if node.name in _STRING_FUNCTIONS and _known(incoming) and not incoming.types & _STRING_TYPES:  # type: ignore[operator]
        raise FhirPathSemanticError(
            f"{node.name}() needs a String, not {' | '.join(sorted(incoming.types))} at position {node.pos}"  # type: ignore[arg-type]
        )
    if node.name == "iif" and args and _known(args[0]) and not args[0].types & _BOOLEAN_TYPES:  # type: ignore[operator]
        raise FhirPathSemanticError(f"iif() needs a Boolean criterion at position {node.pos}")


def _unsigned(arg: n.Node) -> n.Node:
    return arg.operand if isinstance(arg, n.Unary) and arg.op in "+-" else arg


def _descending(arg: n.Node) -> bool:
    return isinstance(arg, n.Unary) and arg.op == "-"


def _logic(op: str, left: Eval, right: Eval) -> Eval:
    """`and`, `or`, `implies` with three-valued logic (N1 §6.5), skipping the right operand when the left
    one decides the result."""
    if op == "and":

        def logic_and(ctx: list, env: Env) -> list:
            a = to_boolean(left(ctx, env), "and")
            if a is False:
                return [False]
            b = to_boolean(right(ctx, env), "and")
            if b is False:
                return [False]
            return [True] if a is True and b is True else []

        return logic_and
    if op == "or":

        def logic_or(ctx: list, env: Env) -> list:
            a = to_boolean(left(ctx, env), "or")
            if a is True:
                return [True]
            b = to_boolean(right(ctx, env), "or")
            if b is True:
                return [True]
            return [False] if a is False and b is False else []

        return logic_or

    def logic_implies(ctx: list, env: Env) -> list:
        a = to_boolean(left(ctx, env), "implies")
        if a is False:
            return [True]
        b = to_boolean(right(ctx, env), "implies")
        if b is True:
            return [True]
        return [False] if a is True and b is False else []

    return logic_implies


def compile_tree(tree: n.Node, strict: bool = False) -> Eval:
    """The evaluation function of a parsed expression."""
    fn, _ = _Compiler(strict).compile(tree)
    return fn
