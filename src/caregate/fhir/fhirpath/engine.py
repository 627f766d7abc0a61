"""Compiled expressions and the entry points `compile()` and `evaluate()`.

An expression is parsed and compiled once (and cached by text and options); evaluating it builds only a
small environment. The input resource becomes the root node typed by its `resourceType`; `%resource` is
the resource holding the context and `%rootResource` its container when it is a contained resource
(https://hl7.org/fhir/R4/fhirpath.html#vars).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from caregate.clock import Clock
from caregate.fhir.definitions import is_resource_type
from caregate.fhir.fhirpath import (  # noqa: F401
    fn_collections,
    fn_convert,
    fn_fhir,
    fn_math,
    fn_sort,
    fn_strings,
    fn_text,
    fn_types,
)
from caregate.fhir.fhirpath.compiler import compile_tree
from caregate.fhir.fhirpath.model import Node
from caregate.fhir.fhirpath.parser import parse
from caregate.fhir.fhirpath.runtime import Env, Resolver, Tracer
from caregate.fhir.fhirpath.values import to_boolean

__all__ = ["Expression", "compile", "evaluate"]


def _item(value: Any) -> Any:
    if isinstance(value, dict):
        return Node.of(value)
    if value.__class__ is float:
        return Decimal(repr(value))
    return value


def _collection(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [_item(v) for v in value if v is not None]
    return [_item(value)]


def _enclosing_resource(node: Any) -> Node | None:
    while node.__class__ is Node:
        if node.type is not None and is_resource_type(node.type):
            return node
        node = node.parent
    return None


def _container(resource: Node) -> Node:
    if resource.name == "contained" and resource.parent is not None:
        return _enclosing_resource(resource.parent) or resource
    return resource


class Expression:
    """A compiled FHIRPath expression; evaluate it as often as needed, from any thread."""

    __slots__ = ("_fn", "lenient_as", "strict", "text")

    def __init__(self, text: str, *, strict: bool = False, lenient_as: bool = False) -> None:
        self.text = text
        self.strict = strict
        self.lenient_as = lenient_as
        self._fn = compile_tree(parse(text), strict)

    def evaluate(self, resource: Any = None, *, context: Any = None, variables: dict[str, Any] | None = None,
                 resolver: Resolver | None = None, clock: Clock | None = None,
                 tracer: Tracer | None = None) -> list:
        """Evaluate on a resource (a JSON dict or a Node); returns the result collection.

        `context` is the focus (`%context`, `$this` at the top) when it is not the resource itself: a Node
        from an earlier evaluation, a list of them, or a JSON value. `variables` become `%name`; `resolver`
        serves `resolve()` for references that are neither contained nor in an enclosing Bundle; `clock`
        fixes `now()`; `tracer(name, collection)` receives `trace()` output.

        Items are Nodes for elements of the resource (`.data` is the JSON, `.type` the FHIR type, `.path`
        where it is) and Python values for System values: bool, int, Decimal, str, and the Date, DateTime,
        Time and Quantity classes of this package.
        """
        root = resource if resource is None or resource.__class__ is Node else Node.of(resource)
        ctx = ([] if root is None else [root]) if context is None else _collection(context)
        holder = _enclosing_resource(ctx[0]) if ctx else None
        if holder is None:
            holder = root
        resource_list = [] if holder is None else [holder]
        root_list = [] if holder is None else [_container(holder)]
        env = Env(resource=resource_list, root_resource=root_list, context=ctx,
                  variables={k: _collection(v) for k, v in variables.items()} if variables else None,
                  resolver=resolver, strict=self.strict, lenient_as=self.lenient_as, clock=clock, tracer=tracer)
        return list(self._fn(ctx, env))

    def evaluate_boolean(self, resource: Any = None, **options: Any) -> bool | None:
        """Evaluate as a condition (invariants): True/False, or None when the result is empty. A single
        non-Boolean item counts as true (N1 §4.5); several items are an error."""
        return to_boolean(self.evaluate(resource, **options), self.text, self.strict)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


@lru_cache(maxsize=4096)
def _compile(text: str, strict: bool, lenient_as: bool) -> Expression:
    return Expression(text, strict=strict, lenient_as=lenient_as)


def compile(expression: str, *, strict: bool = False, lenient_as: bool = False) -> Expression:
    """Parse and compile an expression once (cached): raises FhirPathSyntaxError with the position, or
    FhirPathSemanticError for unknown functions and, in `strict` mode, paths the R4 model does not have.

    `strict` also makes navigation to unknown elements and non-Boolean conditions errors; `lenient_as`
    lets `as` filter collections of several items instead of raising (older invariants rely on it).
    """
    return _compile(expression, strict, lenient_as)


def evaluate(resource: Any, expression: str, **options: Any) -> list:
    """Shortcut for `compile(expression).evaluate(resource, ...)`; `strict`/`lenient_as` pick the compile
    options, every other keyword goes to `Expression.evaluate`."""
    strict = options.pop("strict", False)
    lenient_as = options.pop("lenient_as", False)
    return compile(expression, strict=strict, lenient_as=lenient_as).evaluate(resource, **options)
