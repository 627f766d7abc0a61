"""caregate: an open-standards FHIR R4 health and care data platform."""

__version__ = "0.1.0"
