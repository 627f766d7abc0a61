"""String functions added after N1, which the official R4 suite tests (marked version 2.1.0 there): `trim()`,
`split()`, `join()`, `encode()`/`decode()` (base64, urlbase64, hex) and `escape()`/`unescape()` (html,
json), as the FHIRPath continuous build describes them (https://build.fhir.org/ig/HL7/FHIRPath/#additional-string-functions).

Like the N1 string functions they return empty for an empty input or argument and raise for a non-String
input; an unknown format or undecodable text is an evaluation error, never a silent empty.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re

from caregate.fhir.fhirpath.errors import FhirPathEvaluationError
from caregate.fhir.fhirpath.runtime import Env, function
from caregate.fhir.fhirpath.values import single, to_system, type_of

__all__: list[str] = []


def _string(items: list, what: str) -> str | None:
    if not items:
        return None
    value = to_system(single(items, what))
    if value.__class__ is not str:
        raise FhirPathEvaluationError(f"{what} needs a String, got {type_of(value)}")
    return value


@function("trim")
def _trim(env: Env, items: list) -> list:
    s = _string(items, "trim()")
    return [] if s is None else [s.strip()]


@function("split", 1)
def _split(env: Env, items: list, separator: list) -> list:
    s, sep = _string(items, "split()"), _string(separator, "split()")
    if s is None or sep is None:
        return []
    return s.split(sep) if sep else list(s)


@function("join", 0, 1)
def _join(env: Env, items: list, separator: list | None = None) -> list:
    """Join the input Strings (not one String: a collection); an empty input gives an empty String."""
    sep = "" if separator is None else _string(separator, "join()")
    if sep is None:
        return []
    parts = []
    for item in items:
        value = to_system(item)
        if value.__class__ is not str:
            raise FhirPathEvaluationError(f"join() needs Strings, got {type_of(value)}")
        parts.append(value)
    return [sep.join(parts)]


def _encode(data: bytes, fmt: str) -> str:
    if fmt == "base64":
        return base64.b64encode(data).decode("ascii")
    if fmt == "urlbase64":
        return base64.urlsafe_b64encode(data).decode("ascii")
    if fmt == "hex":
        return data.hex()
    raise FhirPathEvaluationError(f"unknown encoding {fmt!r} (base64, urlbase64, hex)")


def _decode(text: str, fmt: str) -> bytes:
    try:
        if fmt == "base64":
            return base64.b64decode(text, validate=True)
        if fmt == "urlbase64":
            return base64.urlsafe_b64decode(text)
        if fmt == "hex":
            return bytes.fromhex(text)
    except (binascii.Error, ValueError) as e:
        raise FhirPathEvaluationError(f"cannot decode {fmt}: {e}") from None
    raise FhirPathEvaluationError(f"unknown encoding {fmt!r} (base64, urlbase64, hex)")


@function("encode", 1)
def _encode_fn(env: Env, items: list, fmt: list) -> list:
    s, f = _string(items, "encode()"), _string(fmt, "encode()")
    return [] if s is None or f is None else [_encode(s.encode("utf-8"), f)]


@function("decode", 1)
def _decode_fn(env: Env, items: list, fmt: list) -> list:
    s, f = _string(items, "decode()"), _string(fmt, "decode()")
    if s is None or f is None:
        return []
    try:
        return [_decode(s, f).decode("utf-8")]
    except UnicodeDecodeError:
        raise FhirPathEvaluationError(f"decode(): the {f} text is not UTF-8") from None


_JSON_ESCAPE = re.compile(r'\\(u[0-9a-fA-F]{4}|["\\/bfnrt])')
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape_json(m: re.Match[str]) -> str:
    code = m.group(1)
    return chr(int(code[1:], 16)) if code[0] == "u" else _JSON_SIMPLE[code]


@function("escape", 1)
def _escape(env: Env, items: list, target: list) -> list:
    s, t = _string(items, "escape()"), _string(target, "escape()")
    if s is None or t is None:
        return []
    if t == "html":
        return [html.escape(s, quote=True)]
    if t == "json":
        return [json.dumps(s, ensure_ascii=False)[1:-1]]
    raise FhirPathEvaluationError(f"unknown escape target {t!r} (html, json)")


@function("unescape", 1)
def _unescape(env: Env, items: list, target: list) -> list:
    s, t = _string(items, "unescape()"), _string(target, "unescape()")
    if s is None or t is None:
        return []
    if t == "html":
        return [html.unescape(s)]
    if t == "json":
        return [_JSON_ESCAPE.sub(_unescape_json, s)]
    raise FhirPathEvaluationError(f"unknown escape target {t!r} (html, json)")
