"""Primitive values between the XML `value` attribute and JSON scalars, and XML attribute escaping.

XML carries every primitive as the text of a `value` attribute; JSON writes booleans as true/false and
integer, decimal, positiveInt and unsignedInt as numbers (https://hl7.org/fhir/R4/json.html, primitive types).

Decimals must keep their written precision (https://hl7.org/fhir/R4/datatypes.html, decimal: `1.50` is
not `1.5`), but a Python float cannot remember trailing zeros. So a decimal becomes:

- an `int` when written without fraction or exponent (`185`), exactly what orjson gives for JSON `185`;
- a `float` when `repr()` of that float gives back the very text written (`1.5`, `36.6`, `1e-07`);
- otherwise a `FhirDecimal`: a float subclass remembering its text (`1.50`, `0.10`, `1.0e2`). It compares,
  hashes and computes like the float, so resources read from XML compare equal to the same resources read
  from JSON, and writing it back to XML gives the original text.

JSON -> XML -> JSON therefore gives equal dicts (the JSON side only ever holds ints and floats, and floats are
written with `repr`, which reads back to the same float), and XML -> JSON -> XML keeps `1.50`. orjson does
not serialise float subclasses on its own: pass `default=json_default` to `orjson.dumps`, which writes the
remembered text, so JSON output keeps the precision as well.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

__all__ = ["FhirDecimal", "escape_attribute", "from_xml_text", "json_default", "to_xml_text"]

_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_INTEGER = re.compile(r"-?[0-9]+\Z")
_INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt"})
# Characters XML 1.0 cannot hold at all, not even as character references (XML 1.0 section 2.2).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTRIBUTE_SPECIAL = re.compile('[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


class FhirDecimal(float):
    """A decimal whose written form a float cannot reproduce (`1.50`): a float that remembers its text.

    `str()` and `repr()` give the text, so FHIRPath and search code that go through `str` see the precision.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> FhirDecimal:
        value = super().__new__(cls, text)
        value.text = text
        return value

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (FhirDecimal, (self.text,))


def json_default(value: object) -> orjson.Fragment:
    """`orjson.dumps(resource, default=json_default)`: writes a FhirDecimal as written (`1.50`)."""
    if isinstance(value, FhirDecimal):
        return orjson.Fragment(value.text.encode())
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _decimal(text: str) -> int | float:
    if not _DECIMAL.match(text):
        raise ValueError(f"{text!r} is not a decimal")
    if "." not in text and "e" not in text and "E" not in text:
        number = int(text)
        return number if str(number) == text else FhirDecimal(text)
    value = float(text)
    return value if repr(value) == text else FhirDecimal(text)


def from_xml_text(text: str, type_code: str, json_type: str) -> bool | int | float | str:
    """The JSON value of an XML `value` attribute; ValueError when the type cannot hold it."""
    if json_type == "string":
        return text
    if json_type == "boolean":
        if text == "true":
            return True
        if text == "false":
            return False
        raise ValueError(f"{text!r} is not a boolean (true or false)")
    if type_code in _INTEGER_TYPES:
        if not _INTEGER.match(text):
            raise ValueError(f"{text!r} is not an {type_code}")
        return int(text)
    return _decimal(text)


def to_xml_text(value: object, type_code: str, json_type: str) -> str:
    """The XML `value` attribute text of a JSON value (unescaped); ValueError when the JSON type is wrong."""
    if json_type == "string":
        if isinstance(value, str):
            return value
        raise ValueError(f"a {type_code} must be a JSON string, not {_json_kind(value)}")
    if json_type == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        raise ValueError(f"a boolean must be true or false, not {_json_kind(value)}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a {type_code} must be a JSON number, not {_json_kind(value)}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, FhirDecimal):
        return value.text
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a number FHIR can hold")
    if type_code in _INTEGER_TYPES:
        if not value.is_integer():
            raise ValueError(f"{value!r} is not an {type_code}")
        return str(int(value))
    return repr(value)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def escape_attribute(text: str) -> str:
    """Text made safe inside a double-quoted XML attribute; ValueError for characters XML cannot hold."""
    if not _ATTRIBUTE_SPECIAL.search(text):
        return text
    bad = _NOT_XML.search(text)
    if bad:
        raise ValueError(f"character U+{ord(bad.group()):04X} cannot be written in XML")
    # Attribute-value normalisation turns literal tabs and line breaks into spaces (XML 1.0 section 3.3.3):
    # character references keep them, which matters for markdown and other multi-line strings.
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )
