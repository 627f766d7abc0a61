"""Tokens of the FHIRPath grammar (http://hl7.org/fhirpath/N1/grammar.html, lexer rules).

Comments (`//` to end of line, `/* ... */`) and whitespace are skipped (N1 §3 "Comments"). String literals
and delimited identifiers share the escape set `\\' \\" \\` \\\\ \\/ \\f \\n \\r \\t \\uXXXX` (N1 §2.4
"String"). Date, time and datetime literals start with `@` (N1 §2.4 "Date", "DateTime", "Time"); a
number's `.` belongs to it only when a digit follows, so `1.convertsToInteger()` is an invocation on `1`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from caregate.fhir.fhirpath.errors import FhirPathSyntaxError

__all__ = ["Token", "tokenize"]


class Token(NamedTuple):
    """One lexical token: `kind` is num, str, ident, qident (backtick-delimited), date, datetime, time,
    op, var (`%name`), special (`$this`, `$index`, `$total`) or eof; `value` is the decoded text."""

    kind: str
    value: str
    pos: int


_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

_DATE = r"\d{4}(?:-\d{2}(?:-\d{2})?)?"
_TIME = r"\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_TZ = r"(?:Z|[+-]\d{2}:\d{2})"
_DATETIME_RE = re.compile(rf"@({_DATE})T(?:({_TIME})({_TZ})?)?")
_DATE_RE = re.compile(rf"@({_DATE})")
_TIME_RE = re.compile(rf"@T({_TIME})")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?L?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE_RE = re.compile(r"\s+")
_OPS = ("<=", ">=", "!=", "!~", "=", "~", "<", ">", "+", "-", "*", "/", "&", "|", ".", ",", "(", ")", "[", "]",
        "{", "}")


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """Decode a quoted literal starting at `start` (the opening quote); return (value, end offset)."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= n:
                break
            e = text[i + 1]
            if e == "u":
                digits = text[i + 2 : i + 6]
                if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    raise FhirPathSyntaxError("invalid \\u escape", text, i)
                out.append(chr(int(digits, 16)))
                i += 6
                continue
            if e not in _ESCAPES:
                raise FhirPathSyntaxError(f"invalid escape \\{e}", text, i)
            out.append(_ESCAPES[e])
            i += 2
            continue
        out.append(c)
        i += 1
    raise FhirPathSyntaxError("unterminated literal", text, start)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, ending with an `eof` token; raise FhirPathSyntaxError on bad input."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i = _SPACE_RE.match(text, i).end()  # type: ignore[union-attr]
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise FhirPathSyntaxError("unterminated comment", text, i)
            i = end + 2
            continue
        if c == "'":
            value, j = _quoted(text, i, "'")
            tokens.append(Token("str", value, i))
            i = j
            continue
        if c == "`":
            value, j = _quoted(text, i, "`")
            tokens.append(Token("qident", value, i))
            i = j
            continue
        if c.isdigit():
            m = _NUMBER_RE.match(text, i)
            assert m is not None
            tokens.append(Token("num", m.group(), i))
            i = m.end()
            continue
        if c == "@":
            m = _DATETIME_RE.match(text, i)
            if m:
                tokens.append(Token("datetime", m.group()[1:], i))
                i = m.end()
                continue
            m = _TIME_RE.match(text, i) or _DATE_RE.match(text, i)
            if m is None:
                raise FhirPathSyntaxError("invalid date/time literal", text, i)
            kind = "time" if text.startswith("@T", i) else "date"
            tokens.append(Token(kind, m.group(1), i))
            i = m.end()
            continue
        if c == "%":
            if i + 1 < n and text[i + 1] in "`'":
                value, j = _quoted(text, i + 1, text[i + 1])
            else:
                m = _IDENT_RE.match(text, i + 1)
                if m is None:
                    raise FhirPathSyntaxError("expected a variable name after %", text, i)
                value, j = m.group(), m.end()
            tokens.append(Token("var", value, i))
            i = j
            continue
        if c == "$":
            m = _IDENT_RE.match(text, i + 1)
            if m is None or m.group() not in ("this", "index", "total"):
                raise FhirPathSyntaxError("unknown $ variable", text, i)
            tokens.append(Token("special", m.group(), i))
            i = m.end()
            continue
        if c.isalpha() or c == "_":
            m = _IDENT_RE.match(text, i)
            assert m is not None
            tokens.append(Token("ident", m.group(), i))
            i = m.end()
            continue
        for op in _OPS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            raise FhirPathSyntaxError(f"unexpected character {c!r}", text, i)
    tokens.append(Token("eof", "", n))
    return tokens
