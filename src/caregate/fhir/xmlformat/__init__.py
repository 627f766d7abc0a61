"""The FHIR R4 XML format: `parse_xml` (XML -> JSON dict) and `to_xml` (JSON dict -> XML bytes).

Resources stay plain JSON dicts everywhere in caregate; XML is only converted at the edges, following
https://hl7.org/fhir/R4/xml.html and https://hl7.org/fhir/R4/json.html with the element model generated from
the R4 StructureDefinitions (`data/xml-model.json`, tools/gendefs.py). Errors are `FhirFormatError`, a
`ValueError` with `message`, `location` (FHIRPath-like), `line` and `column`.
"""

from caregate.fhir.xmlformat.errors import (
    FhirFormatError,
    FhirStructureError,
    FhirValueError,
    XmlForbiddenError,
    XmlSyntaxError,
)
from caregate.fhir.xmlformat.reader import parse_xml
from caregate.fhir.xmlformat.values import FhirDecimal, json_default
from caregate.fhir.xmlformat.writer import to_xml

__all__ = [
    "FhirDecimal",
    "FhirFormatError",
    "FhirStructureError",
    "FhirValueError",
    "XmlForbiddenError",
    "XmlSyntaxError",
    "json_default",
    "parse_xml",
    "to_xml",
]
