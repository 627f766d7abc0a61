"""The errors a FHIRPath expression can raise, by the phase that finds them.

FHIRPath distinguishes expressions that do not parse (syntax), expressions that cannot be valid for the
model (semantic: `Observation.valueQuantity`, since choice elements are navigated as `value`, see
https://hl7.org/fhir/R4/fhirpath.html#polymorphism) and errors signalled while evaluating ("the evaluation
will end and signal an error to the calling environment", http://hl7.org/fhirpath/N1/#singleton-evaluation-
of-collections). Callers such as invariant checking treat every `FhirPathError` as "could not evaluate",
which is different from the expression returning false.
"""

from __future__ import annotations

__all__ = [
    "FhirPathError",
    "FhirPathEvaluationError",
    "FhirPathNotSupported",
    "FhirPathSemanticError",
    "FhirPathSyntaxError",
]


class FhirPathError(ValueError):
    """Any failure to compile or evaluate a FHIRPath expression."""


class FhirPathSyntaxError(FhirPathError):
    """The expression does not follow the FHIRPath grammar (http://hl7.org/fhirpath/N1/grammar.html).

    `position` is the 0-based character offset of the offending token in `expression`.
    """

    def __init__(self, message: str, expression: str, position: int) -> None:
        self.message = message
        self.expression = expression
        self.position = position
        super().__init__(f"{message} at position {position} in {expression!r}")


class FhirPathSemanticError(FhirPathError):
    """The expression cannot be valid for the FHIR R4 model (unknown element, wrong type, ordering)."""


class FhirPathEvaluationError(FhirPathError):
    """An error signalled during evaluation: wrong cardinality, incompatible operand types, bad argument."""


class FhirPathNotSupported(FhirPathError):
    """A function that needs a service this engine does not have (terminology for `memberOf()`)."""
