"""A precedence-climbing parser for the FHIRPath N1 grammar (http://hl7.org/fhirpath/N1/grammar.html).

Operator precedence, tightest first (N1 §9 "Operator precedence"): `.` and `[]`; unary `+ -`;
`* / div mod`; `+ - &`; `is as`; `|`; `< > <= >=`; `= ~ != !~`; `in contains`; `and`; `or xor`;
`implies`. All binary operators associate to the left. Polarity binds looser than invocation, so
`-1.convertsToInteger()` negates a Boolean (an error), as the official suite expects.
"""

from __future__ import annotations

from decimal import Decimal

from caregate.fhir.fhirpath import nodes as n
from caregate.fhir.fhirpath.errors import FhirPathSyntaxError
from caregate.fhir.fhirpath.lexer import Token, tokenize
from caregate.fhir.fhirpath.quantity import CALENDAR_UNITS, Quantity
from caregate.fhir.fhirpath.temporal import parse_date, parse_datetime, parse_time

__all__ = ["parse"]

_BINARY = {
    "implies": 1, "or": 2, "xor": 2, "and": 3, "in": 4, "contains": 4,
    "=": 5, "~": 5, "!=": 5, "!~": 5, "<": 6, ">": 6, "<=": 6, ">=": 6, "|": 7, "is": 8, "as": 8,
    "+": 9, "-": 9, "&": 9, "*": 10, "/": 10, "div": 10, "mod": 10,
}
_UNARY = 11
_KEYWORD_OPS = frozenset(k for k in _BINARY if k.isalpha())
_NAME_KEYWORDS = frozenset(("as", "contains", "in", "is"))  # keywords that may also name a member or function
_NOT_TERMS = _KEYWORD_OPS - _NAME_KEYWORDS


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> FhirPathSyntaxError:
        tok = tok or self.peek()
        return FhirPathSyntaxError(message, self.text, tok.pos)

    def expect(self, value: str) -> Token:
        tok = self.next()
        if tok.kind != "op" or tok.value != value:
            raise self.error(f"expected {value!r}", tok)
        return tok

    def binary_op(self) -> str | None:
        tok = self.peek()
        if tok.kind == "op" and tok.value in _BINARY:
            return tok.value
        if tok.kind == "ident" and tok.value in _KEYWORD_OPS:
            return tok.value
        return None

    def expression(self, min_prec: int = 0) -> n.Node:
        left = self.prefix()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.value == ".":
                self.next()
                left = n.Invocation(left.pos, left, self.invocation())
                continue
            if tok.kind == "op" and tok.value == "[":
                self.next()
                index = self.expression()
                self.expect("]")
                left = n.Indexer(left.pos, left, index)
                continue
            op = self.binary_op()
            if op is None or _BINARY[op] < min_prec:
                return left
            self.next()
            if op in ("is", "as"):
                left = n.TypeOperation(tok.pos, op, left, self.type_specifier())
            else:
                left = n.Binary(tok.pos, op, left, self.expression(_BINARY[op] + 1))

    def prefix(self) -> n.Node:
        tok = self.peek()
        if tok.kind == "op" and tok.value in ("+", "-"):
            self.next()
            operand = self.expression(_UNARY)
            if tok.value == "-" and isinstance(operand, n.Literal) and type(operand.value) in (int, Decimal):
                return n.Literal(tok.pos, -operand.value)
            if tok.value == "-" and isinstance(operand, n.Literal) and isinstance(operand.value, Quantity):
                return n.Literal(tok.pos, Quantity(-operand.value.value, operand.value.unit))
            return n.Unary(tok.pos, tok.value, operand)
        return self.term()

    def term(self) -> n.Node:
        tok = self.next()
        kind, value, pos = tok
        if kind == "num":
            return self.number(tok)
        if kind == "str":
            return n.Literal(pos, value)
        if kind in ("date", "datetime", "time"):
            parsed = {"date": parse_date, "datetime": parse_datetime, "time": parse_time}[kind](value)
            if parsed is None:
                raise self.error(f"invalid {kind} literal @{value}", tok)
            return n.Literal(pos, parsed)
        if kind == "var":
            return n.Variable(pos, value)
        if kind == "special":
            return n.Special(pos, value)
        if kind == "op" and value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if kind == "op" and value == "{":
            self.expect("}")
            return n.EmptyLiteral(pos)
        if kind == "ident" and value in ("true", "false"):
            return n.Literal(pos, value == "true")
        if kind == "ident" and value in _NOT_TERMS:
            raise self.error(f"unexpected keyword {value!r}", tok)
        if kind in ("ident", "qident"):
            return self.member(tok)
        raise self.error("unexpected end of expression" if kind == "eof" else f"unexpected {value!r}", tok)

    def number(self, tok: Token) -> n.Node:
        text = tok.value
        value: int | Decimal = int(text[:-1]) if text.endswith("L") else Decimal(text) if "." in text else int(text)
        unit_tok = self.peek()
        if unit_tok.kind == "str":
            self.next()
            return n.Literal(tok.pos, Quantity(Decimal(value), unit_tok.value))
        if unit_tok.kind == "ident" and unit_tok.value in CALENDAR_UNITS:
            self.next()
            return n.Literal(tok.pos, Quantity(Decimal(value), unit_tok.value))
        return n.Literal(tok.pos, value)

    def member(self, tok: Token) -> n.Node:
        if tok.kind == "ident" and self.peek().kind == "op" and self.peek().value == "(":
            self.next()
            args: list[n.Node] = []
            if not (self.peek().kind == "op" and self.peek().value == ")"):
                args.append(self.expression())
                while self.peek().kind == "op" and self.peek().value == ",":
                    self.next()
                    args.append(self.expression())
            self.expect(")")
            return n.FunctionCall(tok.pos, tok.value, tuple(args))
        return n.Identifier(tok.pos, tok.value, tok.kind == "qident")

    def invocation(self) -> n.Node:
        tok = self.next()
        if tok.kind == "special":
            return n.Special(tok.pos, tok.value)
        if tok.kind == "qident" or (tok.kind == "ident" and (tok.value not in _KEYWORD_OPS or tok.value in
                                                              _NAME_KEYWORDS)):
            return self.member(tok)
        raise self.error("expected a member or function name after '.'", tok)

    def type_specifier(self) -> str:
        parts = [self.identifier()]
        while self.peek().kind == "op" and self.peek().value == "." and self.tokens[self.i + 1].kind in (
            "ident", "qident"
        ):
            self.next()
            parts.append(self.identifier())
        return ".".join(parts)

    def identifier(self) -> str:
        tok = self.next()
        if tok.kind not in ("ident", "qident"):
            raise self.error("expected a type name", tok)
        return tok.value


def parse(text: str) -> n.Node:
    """Parse an expression into its syntax tree; raise FhirPathSyntaxError with the offending position."""
    parser = _Parser(text)
    tree = parser.expression()
    tok = parser.peek()
    if tok.kind != "eof":
        raise parser.error(f"unexpected {tok.value!r}", tok)
    return tree
