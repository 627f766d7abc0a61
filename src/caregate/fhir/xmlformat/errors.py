"""Errors of the FHIR XML format: each is a `ValueError` naming what is wrong and where.

The location is a FHIRPath-like path (`Patient.name[1].given[0]`) so a client can find the problem in its
resource whichever format it sent; parse errors also carry the line and column (1-based) of the XML input.
The web layer can turn one into an OperationOutcome issue with `expression` = `(error.location,)`
(https://hl7.org/fhir/R4/operationoutcome.html).
"""

from __future__ import annotations

__all__ = [
    "FhirFormatError",
    "FhirStructureError",
    "FhirValueError",
    "XmlForbiddenError",
    "XmlSyntaxError",
]


class FhirFormatError(ValueError):
    """A resource could not be converted between FHIR XML and FHIR JSON (xml.html, json.html)."""

    def __init__(self, message: str, location: str = "", line: int | None = None, column: int | None = None):
        self.message = message
        self.location = location
        self.line = line
        self.column = column
        super().__init__(self.describe())

    def describe(self) -> str:
        """The message with its location: `unknown element 'foo' at Patient.name[0] (line 7, column 5)`."""
        text = self.message
        if self.location:
            text += f" at {self.location}"
        if self.line is not None:
            text += f" (line {self.line}, column {self.column})"
        return text

    @property
    def expression(self) -> tuple[str, ...]:
        """The location as OperationOutcome.issue.expression wants it (empty when unknown)."""
        return (self.location,) if self.location else ()


class XmlSyntaxError(FhirFormatError):
    """The input is not well-formed XML (or not XML at all)."""


class XmlForbiddenError(FhirFormatError):
    """The input uses a DOCTYPE or entity declarations, refused to prevent XXE and entity expansion attacks."""


class FhirStructureError(FhirFormatError):
    """Well-formed, but not FHIR: unknown element, attribute or JSON property, wrong namespace, text where
    only elements may appear, or a single-valued element given twice."""


class FhirValueError(FhirFormatError):
    """A primitive value that its type cannot hold: `maybe` for a boolean, `1,5` for a decimal, a JSON
    string where a number belongs, or characters XML 1.0 cannot represent."""
