"""The standards checker: does a FHIR R4 server, anyone's, meet the open standards it claims?

`caregate check BASE_URL` speaks plain HTTP to any FHIR R4 server, reads what its CapabilityStatement declares
and exercises it, test by test, keeping the requests and responses as evidence. Tests are data
(`model.CheckTest`) grouped in suites (`suites/`); `runner.run` gives each a verdict (pass, fail, skip, error);
`reports` writes HTML for people and JSON and JUnit XML for CI.

Layer 7: it uses the FHIR model (`caregate.fhir`: NHS numbers, FHIRPath, XML) and nothing of the server.
"""
