"""The abstract syntax tree of a FHIRPath expression (one class per production of the N1 grammar).

Parsing builds these once per expression; the compiler then turns them into closures
(http://hl7.org/fhirpath/N1/grammar.html). Every node keeps the offset of its first token so semantic
errors can point into the expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Binary",
    "EmptyLiteral",
    "FunctionCall",
    "Identifier",
    "Indexer",
    "Invocation",
    "Literal",
    "Node",
    "Special",
    "TypeOperation",
    "Unary",
    "Variable",
]


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all syntax nodes."""

    pos: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A literal: Boolean, Integer, Decimal, String, Date, DateTime, Time or Quantity (N1 §2.4)."""

    value: Any


@dataclass(frozen=True, slots=True)
class EmptyLiteral(Node):
    """`{}`, the empty collection."""


@dataclass(frozen=True, slots=True)
class Identifier(Node):
    """A member name or a type name (`name`, `` `given` ``); `delimited` when written with backticks."""

    name: str
    delimited: bool = False


@dataclass(frozen=True, slots=True)
class FunctionCall(Node):
    """`name(args...)`: arguments stay unevaluated syntax because many functions take lambdas."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Invocation(Node):
    """`target.member`: `member` is an Identifier or a FunctionCall applied to the target's result."""

    target: Node
    member: Node


@dataclass(frozen=True, slots=True)
class Indexer(Node):
    """`target[index]` (N1 §5.3 "Indexer")."""

    target: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Special(Node):
    """`$this`, `$index` or `$total` (N1 §5.2.2, §5.6 "aggregate")."""

    name: str


@dataclass(frozen=True, slots=True)
class Variable(Node):
    """An environment variable `%name` (N1 §7; FHIR adds %resource, %rootResource, %ucum, %vs-, %ext-)."""

    name: str


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """Polarity `+x` / `-x`."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """An infix operator: arithmetic, comparison, equality, union, membership or Boolean logic."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class TypeOperation(Node):
    """`operand is Type` / `operand as Type`, with the qualified type name as written (`FHIR.string`)."""

    op: str
    operand: Node
    type_name: str
