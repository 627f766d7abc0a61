"""A FHIRPath engine for FHIR R4: the whole N1 language plus the FHIR additions, over JSON resources.

FHIRPath (http://hl7.org/fhirpath/N1/) as FHIR R4 uses it (https://hl7.org/fhir/R4/fhirpath.html): for
invariants, FHIRPath Patch and subscriptions. Expressions are parsed once into a syntax tree, compiled to
Python closures and cached; evaluation navigates the resource JSON with the R4 type model.

    from caregate.fhir import fhirpath

    expr = fhirpath.compile("name.where(use = 'official').given.first()")
    expr.evaluate(patient)                          # -> [Node(Patient.name[0].given[0]: string='Peter')]
    fhirpath.evaluate(patient, "birthDate < today()")  # -> [True]

(`search/fhirpath.py` is a separate, smaller compiler for SearchParameter expressions.)
"""

from caregate.fhir.fhirpath.engine import Expression, compile, evaluate
from caregate.fhir.fhirpath.errors import (
    FhirPathError,
    FhirPathEvaluationError,
    FhirPathNotSupported,
    FhirPathSemanticError,
    FhirPathSyntaxError,
)
from caregate.fhir.fhirpath.model import Node, TypeInfo
from caregate.fhir.fhirpath.quantity import Quantity
from caregate.fhir.fhirpath.runtime import FUNCTIONS
from caregate.fhir.fhirpath.temporal import Date, DateTime, Time
from caregate.fhir.fhirpath.values import text_of, to_system

__all__ = [
    "FUNCTIONS",
    "Date",
    "DateTime",
    "Expression",
    "FhirPathError",
    "FhirPathEvaluationError",
    "FhirPathNotSupported",
    "FhirPathSemanticError",
    "FhirPathSyntaxError",
    "Node",
    "Quantity",
    "Time",
    "TypeInfo",
    "compile",
    "evaluate",
    "text_of",
    "to_system",
]
