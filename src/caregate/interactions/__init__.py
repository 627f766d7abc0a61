"""FHIR interactions (https://hl7.org/fhir/R4/http.html), one module each, free of web types.

Each is a plain async function of a `RequestContext` and the interaction's inputs, returning a `Result`
or raising `FhirError`; the web layer alone turns those into HTTP.
"""
