"""The syntax of UCUM unit expressions (The Unified Code for Units of Measure, §2.1 "Syntax rules").

    main-term   ::= "/" term | term
    term        ::= term "." component | term "/" component | component
    component   ::= annotatable annotation | annotatable | annotation | factor | "(" term ")"
    annotatable ::= simple-unit exponent | simple-unit
    exponent    ::= ("+" | "-") digits | digits
    annotation  ::= "{" (ASCII 33-126 but curly braces)* "}"

A simple unit is an atom with an optional prefix; atoms are printable ASCII without the operators, digits
(except the atoms `10*` and `10^`) or curly braces, and may hold square-bracketed parts such as `[in_i]` or
`mm[Hg]`. This checks the syntax, not that each atom is one UCUM defines: `mg/dL`, `10*3/uL`, `{beats}/min`,
`kg.m-2` pass; `mg//dL`, `(mg`, `m g` do not.
"""

from __future__ import annotations

__all__ = ["ucum_problem"]

_OPERATORS = "./(){}"


class _Bad(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def fail(self, what: str) -> _Bad:
        return _Bad(f"{what} at position {self.i + 1}")

    def term(self) -> None:
        self.component()
        while self.peek() in (".", "/") and self.peek():
            self.i += 1
            self.component()

    def component(self) -> None:
        ch = self.peek()
        if ch == "(":
            self.i += 1
            self.term()
            if self.peek() != ")":
                raise self.fail("a ')' is missing")
            self.i += 1
        elif ch == "{":
            self.annotation()
        elif ch.isdigit():
            start = self.i
            while self.peek().isdigit():
                self.i += 1
            if self.s[start:self.i] == "10" and self.peek() in ("*", "^"):  # the atoms 10* and 10^
                self.i += 1
                self.exponent()
                if self.peek() == "{":
                    self.annotation()
            elif self.peek() and self.peek() not in "./)":
                raise self.fail("a number must stand alone as a factor")
        elif ch and ch not in _OPERATORS and not ch.isdigit() and ch not in "+-":
            self.simple_unit()
            self.exponent()
            if self.peek() == "{":
                self.annotation()
        else:
            raise self.fail("a unit is missing" if not ch else f"'{ch}' cannot start a unit")

    def simple_unit(self) -> None:
        while True:
            ch = self.peek()
            if ch == "[":
                end = self.s.find("]", self.i)
                if end < 0:
                    raise self.fail("a ']' is missing")
                if end == self.i + 1:
                    raise self.fail("empty square brackets")
                self.i = end + 1
            elif ch and ch not in _OPERATORS and ch not in "]+-" and not ch.isdigit():
                self.i += 1
            else:
                return

    def exponent(self) -> None:
        if self.peek() in ("+", "-") and self.peek():
            self.i += 1
            if not self.peek().isdigit():
                raise self.fail("a sign must be followed by digits")
        while self.peek().isdigit():
            self.i += 1

    def annotation(self) -> None:
        end = self.s.find("}", self.i)
        if end < 0:
            raise self.fail("a '}' is missing")
        if "{" in self.s[self.i + 1:end]:
            raise self.fail("annotations do not nest")
        self.i = end + 1


def ucum_problem(code: str) -> str | None:
    """Why `code` is not a syntactically valid UCUM expression, or None when it is."""
    if not code:
        return "it is empty"
    bad = next((c for c in code if not 33 <= ord(c) <= 126), None)
    if bad is not None:
        return f"{bad!r} is not allowed (UCUM uses printable ASCII without spaces)"
    parser = _Parser(code)
    try:
        if parser.peek() == "/":
            parser.i += 1
        parser.term()
        if parser.i != len(code):
            raise parser.fail(f"'{code[parser.i]}' is not expected")
    except _Bad as exc:
        return str(exc)
    return None
