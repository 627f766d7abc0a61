"""An expat parser that refuses DOCTYPEs and entity declarations, and reports syntax errors with positions.

FHIR XML is defined without a DTD (https://hl7.org/fhir/R4/xml.html), and the FHIR security page asks
servers to guard against XML external entity attacks (https://hl7.org/fhir/R4/security.html). Refusing
any DOCTYPE up front rules out external entities (XXE) and entity expansion ("billion laughs") alike;
without a DTD an entity reference other than the five predefined ones is already a well-formedness error.
"""

from __future__ import annotations

from typing import Any, NoReturn
from xml.parsers import expat

from caregate.fhir.xmlformat.errors import XmlForbiddenError, XmlSyntaxError

__all__ = ["new_parser", "run_parser"]


class _Guard:
    """The handlers refusing DTD content; they raise, which stops expat at once."""

    __slots__ = ("location", "parser")

    def __init__(self, parser: Any, location: str) -> None:
        self.parser = parser
        self.location = location

    def _refuse(self, what: str) -> NoReturn:
        raise XmlForbiddenError(
            f"{what} are not allowed in FHIR XML (no DTD is used; refused to prevent entity attacks)",
            self.location,
            self.parser.CurrentLineNumber,
            self.parser.CurrentColumnNumber + 1,
        )

    def doctype(self, *_: object) -> None:
        self._refuse("DOCTYPE declarations")

    def entity(self, *_: object) -> None:
        self._refuse("entity declarations")

    def external(self, *_: object) -> int:
        self._refuse("external entities")


def new_parser(encoding: str | None, location: str = "") -> Any:
    """A namespace-aware expat parser (tags arrive as `namespace local`) with DTD content refused.

    `encoding` overrides the document's own declaration (used for `str` input, encoded as UTF-8 first).
    """
    parser = expat.ParserCreate(encoding, namespace_separator=" ")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    guard = _Guard(parser, location)
    parser.StartDoctypeDeclHandler = guard.doctype
    parser.EntityDeclHandler = guard.entity
    parser.UnparsedEntityDeclHandler = guard.entity
    parser.NotationDeclHandler = guard.entity
    parser.ExternalEntityRefHandler = guard.external
    return parser


def run_parser(parser: Any, data: bytes, location: str = "") -> None:
    """Feed the whole input; a well-formedness error becomes an XmlSyntaxError with line and column."""
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise XmlSyntaxError(
            f"malformed XML: {expat.ErrorString(error.code)}", location, error.lineno, error.offset + 1
        ) from None
    finally:
        # Handlers refer back to their owners, which refer to the parser: break the cycle now.
        parser.StartDoctypeDeclHandler = parser.StartElementHandler = parser.EndElementHandler = None
        parser.CharacterDataHandler = parser.StartNamespaceDeclHandler = parser.XmlDeclHandler = None
        parser.EntityDeclHandler = parser.UnparsedEntityDeclHandler = parser.NotationDeclHandler = None
        parser.ExternalEntityRefHandler = None
